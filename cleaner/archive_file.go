package cleaner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
)

// The archived timeline: log files .hoodie/archived/.commits_.archive.<N>_1-0-1
// of Avro data blocks (logfile.AvroDataBlock, content version 3) holding
// HoodieArchivedMetaEntry records, as Hudi 0.15's archiver writes them.

// archiveBatch is the number of entries per Avro data block
// (hoodie.commits.archival.batch).
const archiveBatch = 10

// archiveFileName is the name of archive log file version n.
func archiveFileName(n int) string {
	return filegroup.LogFile{FileID: "commits", Version: n, WriteToken: filegroup.WriteToken{TaskPartitionID: 1, TaskAttemptID: 1}, Ext: filegroup.ExtArchive}.String()
}

// archiveFiles lists the archive log files of folder by version.
func archiveFiles(ctx context.Context, st storage.Storage, folder string) (map[int]string, error) {
	out := map[int]string{}
	for obj, err := range st.List(ctx, folder+"/", "/") {
		if err != nil {
			return nil, fmt.Errorf("cleaner: archive: %w", err)
		}
		if obj.IsDir {
			continue
		}
		lf, err := filegroup.ParseLogFileName(path.Base(obj.Path))
		if err != nil || lf.Ext != filegroup.ExtArchive || lf.FileID != "commits" {
			continue
		}
		out[lf.Version] = obj.Path
	}
	return out, nil
}

// writeArchive writes the datums as the next archive log file, in Avro data
// blocks of archiveBatch records, and returns its key.
func writeArchive(ctx context.Context, st storage.Storage, folder string, datums [][]byte) (string, error) {
	schema, err := avroplan.ArchivedEntrySchemaJSON()
	if err != nil {
		return "", fmt.Errorf("cleaner: archive: %w", err)
	}
	var buf bytes.Buffer
	for i := 0; i < len(datums); i += archiveBatch {
		batch := datums[i:min(i+archiveBatch, len(datums))]
		var content []byte
		content = binary.BigEndian.AppendUint32(content, logfile.BlockVersion)
		content = binary.BigEndian.AppendUint32(content, uint32(len(batch)))
		for _, d := range batch {
			content = binary.BigEndian.AppendUint32(content, uint32(len(d)))
			content = append(content, d...)
		}
		blk := logfile.Block{Type: logfile.AvroDataBlock, Header: logfile.Headers{{Key: logfile.SchemaHeader, Value: schema}}, Content: content}
		if _, err := logfile.WriteBlock(&buf, blk); err != nil {
			return "", fmt.Errorf("cleaner: archive: %w", err)
		}
	}
	existing, err := archiveFiles(ctx, st, folder)
	if err != nil {
		return "", err
	}
	next := 1
	for v := range existing {
		next = max(next, v+1)
	}
	for range 100 {
		key := folder + "/" + archiveFileName(next)
		err := storage.WriteFile(ctx, st, key, buf.Bytes(), storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			next++
			continue
		}
		if err != nil {
			return "", fmt.Errorf("cleaner: archive: write %s: %w", key, err)
		}
		return key, nil
	}
	return "", errors.New("cleaner: archive: no free archive file version")
}

// lastArchived returns the entry keys of the newest archive file, the only
// one a crashed Archive can have written without deleting its instants.
func lastArchived(ctx context.Context, st storage.Storage, folder string) (map[string]bool, error) {
	files, err := archiveFiles(ctx, st, folder)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	newest := 0
	for v := range files {
		newest = max(newest, v)
	}
	if newest == 0 {
		return out, nil
	}
	entries, err := ReadArchiveFile(ctx, st, files[newest])
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		out[entryKey(e)] = true
	}
	return out, nil
}

// ReadArchiveFile decodes every HoodieArchivedMetaEntry of one archive log
// file (key relative to the table base), in file order.
func ReadArchiveFile(ctx context.Context, st storage.Storage, key string) ([]*avroplan.HoodieArchivedMetaEntry, error) {
	b, err := storage.ReadFile(ctx, st, key)
	if err != nil {
		return nil, fmt.Errorf("cleaner: read archive: %w", err)
	}
	var out []*avroplan.HoodieArchivedMetaEntry
	r := logfile.NewReader(bytes.NewReader(b), int64(len(b)))
	for {
		blk, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, logfile.ErrCorrupt) && !errors.Is(err, logfile.ErrUnsupported) {
			return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
		}
		blk.Release()
		if blk.Type != logfile.AvroDataBlock {
			continue
		}
		recs, err := splitAvroContent(blk.Content)
		if err != nil {
			return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
		}
		schema := blk.Header.Value(logfile.SchemaHeader)
		for _, d := range recs {
			e, err := avroplan.UnmarshalArchivedEntry(d, schema)
			if err != nil {
				return nil, fmt.Errorf("cleaner: read archive %s: %w", key, err)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// splitAvroContent splits Avro data block content (version 3) into datums.
func splitAvroContent(c []byte) ([][]byte, error) {
	if len(c) < 8 {
		return nil, errors.New("cleaner: short Avro data block")
	}
	if v := binary.BigEndian.Uint32(c); v != logfile.BlockVersion {
		return nil, fmt.Errorf("cleaner: Avro data block version %d", v)
	}
	n := binary.BigEndian.Uint32(c[4:])
	c = c[8:]
	var out [][]byte
	for i := uint32(0); i < n; i++ {
		if len(c) < 4 {
			return nil, errors.New("truncated Avro data block")
		}
		l := binary.BigEndian.Uint32(c)
		if uint64(l) > uint64(len(c)-4) {
			return nil, errors.New("truncated Avro data block record")
		}
		out = append(out, c[4:4+l])
		c = c[4+l:]
	}
	return out, nil
}
