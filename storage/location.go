package storage

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrUnsupportedScheme is returned by ParseLocation and Open for a location
// whose scheme no backend is registered for (see Register). Use errors.Is.
var ErrUnsupportedScheme = errors.New("storage: unsupported location scheme")

// Location is a parsed table location.
//
// Local locations — plain paths, file:///abs/path, and Hadoop's
// file:/abs/path — have Scheme "file", no Host, and Path as written
// (absolute or relative). Every other location is scheme://host/path: for
// s3://bucket/prefix, Host is the bucket and Path the key prefix, without
// leading or trailing "/".
type Location struct {
	// Scheme selects the backend: "file", "s3", "s3a", "s3n", "mem", or a
	// scheme registered with Register. Always lower case.
	Scheme string
	// Host is the URL's host: the bucket of an S3 location, the store name
	// of a mem location. Empty for local locations.
	Host string
	// Path is the local directory, or the key prefix within Host (no
	// leading or trailing "/", no empty, "." or ".." segment; "" for the
	// root of the bucket).
	Path string
}

// String renders the location: a plain path for local locations, else
// the URL scheme://host/path (path %-escaped where a URL needs it), which
// ParseLocation reads back to l.
func (l Location) String() string {
	switch {
	case l.Scheme == "file" || l.Scheme == "":
		return l.Path
	case l.Path == "":
		return l.Scheme + "://" + l.Host
	default:
		return (&url.URL{Scheme: l.Scheme, Host: l.Host, Path: "/" + l.Path}).String()
	}
}

// ParseLocation parses a table location: a plain path or file:// URI for
// the local filesystem, or scheme://host/path for any registered scheme —
// s3://bucket/prefix (also spelled s3a:// and s3n://, as Hadoop writes
// them), mem://name/prefix. The scheme must be registered (Register) and
// written in lower case. Locations with a query, a fragment or credentials
// ("s3://key:secret@bucket") are refused: credentials go in Options.
//
// Errors start with "storage: "; an unknown scheme matches
// ErrUnsupportedScheme.
func ParseLocation(loc string) (Location, error) {
	if loc == "" {
		return Location{}, errors.New("storage: empty location")
	}
	if strings.ContainsRune(loc, 0) {
		return Location{}, fmt.Errorf("storage: location %q: contains NUL", redact(loc))
	}
	scheme, _, ok := strings.Cut(loc, "://")
	if !ok {
		// Hadoop writes local paths as file:/abs/path.
		if p, ok := strings.CutPrefix(loc, "file:/"); ok {
			return Location{Scheme: "file", Path: "/" + p}, nil
		}
		return Location{Scheme: "file", Path: loc}, nil
	}
	if !validScheme(scheme) {
		return Location{}, fmt.Errorf("storage: location %q: invalid scheme %q", redact(loc), scheme)
	}
	if _, ok := lookup(scheme); !ok {
		return Location{}, fmt.Errorf("%w %q in %q (registered: %s)", ErrUnsupportedScheme, scheme, redact(loc), strings.Join(Schemes(), ", "))
	}
	u, err := url.Parse(loc)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would repeat the location, credentials included
		}
		return Location{}, fmt.Errorf("storage: location %q: %w", redact(loc), err)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("storage: location %q: credentials in the URL are not supported (use Options)", redact(loc))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Location{}, fmt.Errorf("storage: location %q: a query or fragment is not supported", loc)
	}
	if scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("storage: location %q: remote file host %q not supported", loc, u.Host)
		}
		if u.Path == "" {
			return Location{}, fmt.Errorf("storage: location %q: missing path", loc)
		}
		return Location{Scheme: "file", Path: u.Path}, nil
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("storage: location %q: missing host (the bucket or store name)", loc)
	}
	p := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/")
	if p != "" && checkKey(p) != nil {
		return Location{}, fmt.Errorf("storage: location %q: invalid path %q (empty, \".\" or \"..\" segment)", loc, p)
	}
	return Location{Scheme: scheme, Host: u.Host, Path: p}, nil
}

// validScheme reports whether s is a lower-case URL scheme: a letter, then
// letters, digits, '+', '-' or '.'.
func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s[1:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// redact replaces the userinfo of a scheme://user:secret@host/... location
// for messages.
func redact(loc string) string {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return loc
	}
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = "REDACTED@" + authority[i+1:]
	}
	if path != "" || strings.Contains(rest, "/") {
		return scheme + "://" + authority + "/" + path
	}
	return scheme + "://" + authority
}
