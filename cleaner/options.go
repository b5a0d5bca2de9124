package cleaner

import (
	"fmt"
)

// Policy is a cleaning policy, Hudi's hoodie.cleaner.policy.
type Policy int

// Cleaning policies.
const (
	// KeepLatestCommits keeps what readers of the last CommitsRetained
	// commits need (KEEP_LATEST_COMMITS).
	KeepLatestCommits Policy = iota
	// KeepLatestFileVersions keeps the newest FileVersionsRetained slices
	// of every file group (KEEP_LATEST_FILE_VERSIONS).
	KeepLatestFileVersions
)

// String is the policy as Hudi spells it in plans and metadata.
func (p Policy) String() string {
	switch p {
	case KeepLatestCommits:
		return "KEEP_LATEST_COMMITS"
	case KeepLatestFileVersions:
		return "KEEP_LATEST_FILE_VERSIONS"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ParsePolicy parses a policy as Hudi spells it (Policy.String):
// KEEP_LATEST_COMMITS or KEEP_LATEST_FILE_VERSIONS.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{KeepLatestCommits, KeepLatestFileVersions} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("cleaner: policy %q: want %s or %s", s, KeepLatestCommits, KeepLatestFileVersions)
}

// Defaults of Options, as Hudi's hoodie.cleaner.commits.retained and
// hoodie.cleaner.fileversions.retained.
const (
	DefaultCommitsRetained      = 10
	DefaultFileVersionsRetained = 3
)

// Options configure Clean. The zero value cleans with KeepLatestCommits
// retaining 10 commits.
type Options struct {
	// Policy picks which slices go. Default KeepLatestCommits.
	Policy Policy
	// CommitsRetained is the number of newest completed commits whose
	// readers keep working (KeepLatestCommits). Default 10; at least 1.
	CommitsRetained int
	// FileVersionsRetained is the number of slices kept per file group
	// (KeepLatestFileVersions). Default 3; at least 1.
	FileVersionsRetained int
	// DryRun plans the clean and reports it without writing or deleting
	// anything (and without finishing interrupted cleans).
	DryRun bool
}

// EnsureDefaults fills the zero values with defaults: 10 commits and 3
// file versions retained.
func (o *Options) EnsureDefaults() {
	if o.CommitsRetained == 0 {
		o.CommitsRetained = DefaultCommitsRetained
	}
	if o.FileVersionsRetained == 0 {
		o.FileVersionsRetained = DefaultFileVersionsRetained
	}
}

// Validate checks the options: a known policy and at least one commit and
// one file version retained.
func (o *Options) Validate() error {
	switch {
	case o.Policy != KeepLatestCommits && o.Policy != KeepLatestFileVersions:
		return fmt.Errorf("cleaner: unknown policy %v", o.Policy)
	case o.CommitsRetained < 1:
		return fmt.Errorf("cleaner: CommitsRetained %d: want at least 1", o.CommitsRetained)
	case o.FileVersionsRetained < 1:
		return fmt.Errorf("cleaner: FileVersionsRetained %d: want at least 1", o.FileVersionsRetained)
	}
	return nil
}

// Defaults of ArchiveOptions, as Hudi's hoodie.keep.min.commits and
// hoodie.keep.max.commits.
const (
	DefaultMinToKeep = 20
	DefaultMaxToKeep = 30
)

// ArchiveOptions configure Archive. The zero value keeps 20 to 30 commits.
type ArchiveOptions struct {
	// MinToKeep is the number of completed commit-type instants left
	// active after archiving. Default 20.
	MinToKeep int
	// MaxToKeep triggers archival when exceeded. Default 30; greater than
	// MinToKeep.
	MaxToKeep int
}

// EnsureDefaults fills the zero values with defaults: 20 and 30 commits.
func (o *ArchiveOptions) EnsureDefaults() {
	if o.MinToKeep == 0 {
		o.MinToKeep = DefaultMinToKeep
	}
	if o.MaxToKeep == 0 {
		o.MaxToKeep = DefaultMaxToKeep
	}
}

// Validate checks that 1 <= MinToKeep < MaxToKeep.
func (o *ArchiveOptions) Validate() error {
	if o.MinToKeep < 1 || o.MaxToKeep <= o.MinToKeep {
		return fmt.Errorf("cleaner: archive: want 1 <= MinToKeep < MaxToKeep, got %d and %d", o.MinToKeep, o.MaxToKeep)
	}
	return nil
}
