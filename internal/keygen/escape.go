package keygen

import "github.com/hoodie-lake/hoodie/internal/hivepath"

// DefaultPartition is the partition value Hudi writes for null or empty
// partition field values (PartitionPathEncodeUtils.DEFAULT_PARTITION_PATH).
const DefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// EscapePathName returns s with every byte in Hive's escape set (0x00-0x1F,
// "#%'*/:=?\{[]^ and 0x7F) replaced by %XX, upper-case hex, as
// PartitionPathEncodeUtils.escapePathName does when
// hoodie.datasource.write.partitionpath.urlencode is true. Non-ASCII text is
// left alone: Java only escapes chars below 128, and UTF-8 bytes of
// non-ASCII runes are all >= 0x80. An empty s becomes DefaultPartition.
func EscapePathName(s string) string {
	if s == "" {
		return DefaultPartition
	}
	return hivepath.Escape(s)
}

// UnescapePathName reverses EscapePathName the way
// PartitionPathEncodeUtils.unescapePathName does: every %XX with two hex
// digits becomes that byte; anything else is kept.
func UnescapePathName(s string) string { return hivepath.Unescape(s) }
