package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/hivepath"
	"github.com/hoodie-lake/hoodie/storage"
)

// PartitionMetadataFile marks a directory as a Hudi partition. It is a
// properties file written once, with the partition's first data file:
//
//	#partition metadata
//	#Thu Apr 18 18:13:56 CDT 2024
//	commitTime=20240418181355771
//	partitionDepth=4
//
// The file-system view (package filegroup) finds partitions by it.
const PartitionMetadataFile = filegroup.PartitionMetadataFile

// Keys of PartitionMetadataFile.
const (
	partitionKeyCommitTime = "commitTime"
	partitionKeyDepth      = "partitionDepth"
)

// DefaultPartition is the partition value Hive and Hudi use for a null or
// empty partition field.
const DefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// ErrInvalidPartitionPath marks a partition path or value that cannot name a
// directory inside the table. Use errors.Is.
var ErrInvalidPartitionPath = errors.New("table: invalid partition path")

// PartitionMetadata is the content of a PartitionMetadataFile.
type PartitionMetadata struct {
	CommitTime     string // instant that created the partition
	PartitionDepth int    // number of path segments; 0 for the base path
}

// PartitionMetadataPath is the key of the partition metadata file of
// partitionPath ("" for the base path).
func PartitionMetadataPath(partitionPath string) string {
	if partitionPath == "" {
		return PartitionMetadataFile
	}
	return partitionPath + "/" + PartitionMetadataFile
}

// PartitionDepth is the number of segments of a partition path: 0 for "",
// 1 for "10", 2 for "a=1/b=2", 4 for "2023/04/01/12".
func PartitionDepth(partitionPath string) int {
	if partitionPath == "" {
		return 0
	}
	return strings.Count(partitionPath, "/") + 1
}

// ValidatePartitionPath checks that p names a directory inside the table:
// "" (the base path) or "/"-separated segments, none empty, "." or "..",
// none starting with ".hoodie" (the metadata folder and partition files),
// without a leading or trailing "/", backslash or NUL.
func ValidatePartitionPath(p string) error {
	if p == "" {
		return nil
	}
	if strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("%w: %q contains a backslash or NUL", ErrInvalidPartitionPath, p)
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidPartitionPath, p)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: %q has segment %q, which would leave the partition", ErrInvalidPartitionPath, p, seg)
		case strings.HasPrefix(seg, ".hoodie"):
			return fmt.Errorf("%w: %q has segment %q, reserved for Hudi metadata", ErrInvalidPartitionPath, p, seg)
		}
	}
	return nil
}

// EscapePartitionValue %-encodes a partition value as Hive's
// FileUtils.escapePathName (hoodie.datasource.write.partitionpath.urlencode):
// bytes 0x00-0x1F, "#%'*/:=?\{[]^ and 0x7F become %XX (upper-case hex); all
// other bytes, including non-ASCII UTF-8, stay as they are. "" stays ""
// (callers substitute DefaultPartition first).
func EscapePartitionValue(v string) string { return hivepath.Escape(v) }

// UnescapePartitionValue reverses EscapePartitionValue: every "%XX" with two
// hex digits becomes that byte; other '%' stay.
func UnescapePartitionValue(s string) string { return hivepath.Unescape(s) }

// PartitionPath builds a record's partition path the way Hudi's Simple and
// Complex key generators do: per field the value ("" becomes
// DefaultPartition), %-escaped if urlEncode, as "field=value" if hiveStyle
// else "value", joined with "/". No fields gives "" (non-partitioned).
//
// A value must stay one path segment: without urlEncode a value containing
// '/' is refused (Java would silently nest directories, which hudi-rs then
// misreads), as is any result ValidatePartitionPath rejects.
func PartitionPath(fields, values []string, hiveStyle, urlEncode bool) (string, error) {
	if len(fields) != len(values) {
		return "", fmt.Errorf("%w: %d partition fields but %d values", ErrInvalidPartitionPath, len(fields), len(values))
	}
	segs := make([]string, len(fields))
	for i, f := range fields {
		if f == "" || strings.ContainsAny(f, "/=") {
			return "", fmt.Errorf("%w: partition field name %q", ErrInvalidPartitionPath, f)
		}
		v := values[i]
		if v == "" {
			v = DefaultPartition
		}
		if urlEncode {
			v = EscapePartitionValue(v)
		} else if strings.Contains(v, "/") {
			return "", fmt.Errorf("%w: value %q of field %q contains '/'; enable %s", ErrInvalidPartitionPath, v, f, KeyURLEncodePartitioning)
		}
		if hiveStyle {
			v = f + "=" + v
		}
		segs[i] = v
	}
	p := strings.Join(segs, "/")
	if err := ValidatePartitionPath(p); err != nil {
		return "", err
	}
	return p, nil
}

// ReadPartitionMetadata reads the partition metadata file of partitionPath.
func ReadPartitionMetadata(ctx context.Context, st storage.Storage, partitionPath string) (PartitionMetadata, error) {
	if err := ValidatePartitionPath(partitionPath); err != nil {
		return PartitionMetadata{}, err
	}
	key := PartitionMetadataPath(partitionPath)
	b, err := storage.ReadFile(ctx, st, key)
	if err != nil {
		return PartitionMetadata{}, fmt.Errorf("table: read partition metadata: %w", err)
	}
	props, err := ParseProperties(bytes.NewReader(b))
	if err != nil {
		return PartitionMetadata{}, fmt.Errorf("table: %s: %w", key, err)
	}
	md := PartitionMetadata{CommitTime: props[partitionKeyCommitTime]}
	if md.CommitTime == "" {
		return PartitionMetadata{}, fmt.Errorf("%w: %s has no %s", ErrInvalidConfig, key, partitionKeyCommitTime)
	}
	d, ok := props[partitionKeyDepth]
	if !ok {
		return PartitionMetadata{}, fmt.Errorf("%w: %s has no %s", ErrInvalidConfig, key, partitionKeyDepth)
	}
	if md.PartitionDepth, err = strconv.Atoi(strings.TrimSpace(d)); err != nil || md.PartitionDepth < 0 {
		return PartitionMetadata{}, fmt.Errorf("%w: %s: %s=%q", ErrInvalidConfig, key, partitionKeyDepth, d)
	}
	return md, nil
}

// FormatPartitionMetadata renders a partition metadata file as Java's
// HoodiePartitionMetadata writes it, with now in the date comment.
func FormatPartitionMetadata(md PartitionMetadata, now time.Time) []byte {
	return FormatProperties(map[string]string{
		partitionKeyCommitTime: md.CommitTime,
		partitionKeyDepth:      strconv.Itoa(md.PartitionDepth),
	}, PropertiesOptions{Comments: []string{"partition metadata"}, Timestamp: now.UTC()})
}

// WritePartitionMetadata writes the partition metadata file of
// partitionPath ("" for the base path of a non-partitioned table) if it does
// not exist yet; an existing file, whoever wrote it, is kept and is not an
// error (the first commit to touch a partition records itself).
func WritePartitionMetadata(ctx context.Context, st storage.Storage, partitionPath, commitTime string) error {
	if err := ValidatePartitionPath(partitionPath); err != nil {
		return err
	}
	if !filegroup.IsInstantTime(commitTime) {
		return fmt.Errorf("%w: partition metadata commit time %q is not an instant time", ErrInvalidConfig, commitTime)
	}
	b := FormatPartitionMetadata(PartitionMetadata{CommitTime: commitTime, PartitionDepth: PartitionDepth(partitionPath)}, time.Now())
	err := storage.WriteFile(ctx, st, PartitionMetadataPath(partitionPath), b, storage.CreateOptions{IfAbsent: true})
	if err != nil && !errors.Is(err, storage.ErrExist) {
		return fmt.Errorf("table: write partition metadata of %q: %w", partitionPath, err)
	}
	return nil
}

// ListPartitions returns every partition of the table, sorted: each
// directory holding a PartitionMetadataFile, "" for the base path of a
// non-partitioned table. It makes one recursive listing and ignores .hoodie/.
func ListPartitions(ctx context.Context, st storage.Storage) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for obj, err := range st.List(ctx, "", "") {
		if err != nil {
			return nil, fmt.Errorf("table: list partitions: %w", err)
		}
		if obj.IsDir || strings.HasPrefix(obj.Path, MetaFolder+"/") {
			continue
		}
		if path.Base(obj.Path) != PartitionMetadataFile {
			continue
		}
		dir := path.Dir(obj.Path)
		if dir == "." {
			dir = ""
		}
		if !seen[dir] {
			seen[dir] = true
			out = append(out, dir)
		}
	}
	sort.Strings(out)
	return out, nil
}
