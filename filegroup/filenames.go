package filegroup

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// File names of a v6 table (hudi-format.md section 3):
//
//	base file   <fileId>_<writeToken>_<instant>.<ext>            ext: parquet
//	log file    .<fileId>_<baseInstant>.<ext>.<version>_<writeToken>[.cdc]
//	                                                             ext: log, archive
//	fileId      <uuid v4>-<n>          no '_'
//	writeToken  <taskPartitionId>-<stageId>-<taskAttemptId>   e.g. 0-13-60
//	instant     yyyyMMddHHmmss[SSS]    14 or 17 digits
//
// Java parses log names with
// ^\.(.+)_(.*)\.(log|archive)\.(\d+)(_((\d+)-(\d+)-(\d+))(.cdc)?)? .
// hoodie's parsers are stricter, accepting exactly the names Java writes,
// so that for every name n that parses, formatting the result gives n again:
// numbers have no leading zeros, the write token is required, the name
// ends after the token (or its CDC suffix). Archived timeline files
// (".commits_.archive.1_1-0-1") have an empty base instant.

// ErrInvalidFileName marks a name that is not a Hudi base or log file name.
// Use errors.Is.
var ErrInvalidFileName = errors.New("filegroup: invalid file name")

// WriteToken identifies the task attempt that wrote a file:
// "<taskPartitionId>-<stageId>-<taskAttemptId>". Rollback blocks use 1-0-1.
type WriteToken struct {
	TaskPartitionID int64
	StageID         int64
	TaskAttemptID   int64
}

// String formats the token as Java's FSUtils.makeWriteToken.
func (w WriteToken) String() string {
	return strconv.FormatInt(w.TaskPartitionID, 10) + "-" + strconv.FormatInt(w.StageID, 10) + "-" + strconv.FormatInt(w.TaskAttemptID, 10)
}

// ParseWriteToken parses "0-13-60".
func ParseWriteToken(s string) (WriteToken, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return WriteToken{}, fmt.Errorf("%w: write token %q: want <partition>-<stage>-<attempt>", ErrInvalidFileName, s)
	}
	var n [3]int64
	for i, p := range parts {
		v, err := parseCanonicalUint(p)
		if err != nil {
			return WriteToken{}, fmt.Errorf("%w: write token %q: %v", ErrInvalidFileName, s, err)
		}
		n[i] = v
	}
	return WriteToken{TaskPartitionID: n[0], StageID: n[1], TaskAttemptID: n[2]}, nil
}

// parseCanonicalUint parses a non-negative decimal without sign or leading
// zeros, so that formatting it gives the same digits back.
func parseCanonicalUint(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return v, nil
}

func (w WriteToken) validate() error {
	if w.TaskPartitionID < 0 || w.StageID < 0 || w.TaskAttemptID < 0 {
		return fmt.Errorf("%w: negative write token %d-%d-%d", ErrInvalidFileName, w.TaskPartitionID, w.StageID, w.TaskAttemptID)
	}
	return nil
}

// IsInstantTime reports whether s is a timeline instant time: 14
// (yyyyMMddHHmmss) or 17 (with milliseconds) digits.
func IsInstantTime(s string) bool {
	if len(s) != 14 && len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidateFileID checks a file ID: non-empty, no '_' (names are split on
// it), no '/', not starting with '.' (log files are the hidden ones).
func ValidateFileID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty file id", ErrInvalidFileName)
	case strings.ContainsAny(id, "_/\\"):
		return fmt.Errorf("%w: file id %q contains '_' or a path separator", ErrInvalidFileName, id)
	case id[0] == '.':
		return fmt.Errorf("%w: file id %q starts with '.'", ErrInvalidFileName, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%w: file id %q has a blank, control or non-ASCII character", ErrInvalidFileName, id)
		}
	}
	return nil
}

// NewFileID returns a fresh file ID as Java names a task's first file
// group: a random (version 4) UUID followed by "-0".
func NewFileID() string {
	var u [16]byte
	// crypto/rand.Read never returns an error (it aborts the program instead).
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x-0", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// BaseFile is a parsed base file name "<fileId>_<writeToken>_<instant>.<ext>".
type BaseFile struct {
	FileID      string
	WriteToken  WriteToken
	InstantTime string
	Ext         string // without the dot: "parquet"
}

// ExtParquet is the base file extension hoodie writes.
const ExtParquet = "parquet"

// String formats the file name.
func (b BaseFile) String() string {
	return b.FileID + "_" + b.WriteToken.String() + "_" + b.InstantTime + "." + b.Ext
}

// Validate checks every part of the name.
func (b BaseFile) Validate() error {
	if err := ValidateFileID(b.FileID); err != nil {
		return err
	}
	if err := b.WriteToken.validate(); err != nil {
		return err
	}
	if !IsInstantTime(b.InstantTime) {
		return fmt.Errorf("%w: instant %q is not 14 or 17 digits", ErrInvalidFileName, b.InstantTime)
	}
	if !validExt(b.Ext) {
		return fmt.Errorf("%w: extension %q", ErrInvalidFileName, b.Ext)
	}
	return nil
}

func validExt(ext string) bool {
	if ext == "" {
		return false
	}
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ParseBaseFileName parses a base file name (no directory).
func ParseBaseFileName(name string) (BaseFile, error) {
	fileID, rest, ok := strings.Cut(name, "_")
	if !ok {
		return BaseFile{}, fmt.Errorf("%w: %q is not <fileId>_<writeToken>_<instant>.<ext>", ErrInvalidFileName, name)
	}
	token, rest, ok := strings.Cut(rest, "_")
	if !ok {
		return BaseFile{}, fmt.Errorf("%w: %q is not <fileId>_<writeToken>_<instant>.<ext>", ErrInvalidFileName, name)
	}
	instant, ext, ok := strings.Cut(rest, ".")
	if !ok {
		return BaseFile{}, fmt.Errorf("%w: %q has no extension", ErrInvalidFileName, name)
	}
	wt, err := ParseWriteToken(token)
	if err != nil {
		return BaseFile{}, fmt.Errorf("%w (in %q)", err, name)
	}
	b := BaseFile{FileID: fileID, WriteToken: wt, InstantTime: instant, Ext: ext}
	if err := b.Validate(); err != nil {
		return BaseFile{}, fmt.Errorf("%w (in %q)", err, name)
	}
	return b, nil
}

// Log file extensions.
const (
	ExtLog     = "log"
	ExtArchive = "archive"
)

// LogFile is a parsed log file name
// ".<fileId>_<baseInstant>.<ext>.<version>_<writeToken>[.cdc]".
type LogFile struct {
	FileID      string
	BaseInstant string // instant of the slice's base file; "" only for archive files
	Version     int    // from 1 per (FileID, BaseInstant)
	WriteToken  WriteToken
	Ext         string // ExtLog or ExtArchive
	CDC         bool   // change-data-capture log (".cdc" suffix)

	// legacyCDC records a parsed "-cdc" suffix (HoodieCDCUtils of some Hudi
	// releases) so String gives the parsed name back.
	legacyCDC bool
}

// String formats the file name as Java's FSUtils.makeLogFileName.
func (l LogFile) String() string {
	s := "." + l.FileID + "_" + l.BaseInstant + "." + l.Ext + "." + strconv.Itoa(l.Version) + "_" + l.WriteToken.String()
	if l.CDC {
		if l.legacyCDC {
			s += "-cdc"
		} else {
			s += ".cdc"
		}
	}
	return s
}

// Validate checks every part of the name.
func (l LogFile) Validate() error {
	if err := ValidateFileID(l.FileID); err != nil {
		return err
	}
	switch l.Ext {
	case ExtLog:
		if !IsInstantTime(l.BaseInstant) {
			return fmt.Errorf("%w: base instant %q is not 14 or 17 digits", ErrInvalidFileName, l.BaseInstant)
		}
	case ExtArchive:
		if l.BaseInstant != "" && !IsInstantTime(l.BaseInstant) {
			return fmt.Errorf("%w: base instant %q is not 14 or 17 digits", ErrInvalidFileName, l.BaseInstant)
		}
	default:
		return fmt.Errorf("%w: log extension %q, want %q or %q", ErrInvalidFileName, l.Ext, ExtLog, ExtArchive)
	}
	if l.Version < 0 {
		return fmt.Errorf("%w: negative log version %d", ErrInvalidFileName, l.Version)
	}
	return l.WriteToken.validate()
}

// ParseLogFileName parses a log file name (no directory).
func ParseLogFileName(name string) (LogFile, error) {
	bad := func(why string) (LogFile, error) {
		return LogFile{}, fmt.Errorf("%w: %q is not a log file name: %s", ErrInvalidFileName, name, why)
	}
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return bad("no leading '.'")
	}
	var l LogFile
	switch {
	case strings.HasSuffix(rest, ".cdc"):
		l.CDC, rest = true, strings.TrimSuffix(rest, ".cdc")
	case strings.HasSuffix(rest, "-cdc"):
		l.CDC, l.legacyCDC, rest = true, true, strings.TrimSuffix(rest, "-cdc")
	}
	l.FileID, rest, ok = strings.Cut(rest, "_")
	if !ok {
		return bad("no '_' after the file id")
	}
	// rest: <baseInstant>.<ext>.<version>_<token>
	i := strings.IndexByte(rest, '.')
	if i < 0 {
		return bad("no extension")
	}
	l.BaseInstant, rest = rest[:i], rest[i+1:]
	l.Ext, rest, ok = strings.Cut(rest, ".")
	if !ok {
		return bad("no version")
	}
	version, token, ok := strings.Cut(rest, "_")
	if !ok {
		return bad("no write token")
	}
	v, err := parseCanonicalUint(version)
	if err != nil || v > int64(maxLogVersion) {
		return bad(fmt.Sprintf("version %q", version))
	}
	l.Version = int(v)
	if l.WriteToken, err = ParseWriteToken(token); err != nil {
		return LogFile{}, fmt.Errorf("%w (in %q)", err, name)
	}
	if err := l.Validate(); err != nil {
		return LogFile{}, fmt.Errorf("%w (in %q)", err, name)
	}
	return l, nil
}

// maxLogVersion is Java's Integer.MAX_VALUE: log versions are ints.
const maxLogVersion = 1<<31 - 1

// CompareLogFiles orders log files as Java's HoodieLogFile.LogFileComparator:
// by base instant, then version, then write token (as strings).
func CompareLogFiles(a, b LogFile) int {
	if c := strings.Compare(a.BaseInstant, b.BaseInstant); c != 0 {
		return c
	}
	if a.Version != b.Version {
		if a.Version < b.Version {
			return -1
		}
		return 1
	}
	return strings.Compare(a.WriteToken.String(), b.WriteToken.String())
}
