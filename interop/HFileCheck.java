// HFileCheck reads HFiles written by hoodie's internal/hfile with Apache
// Hudi 0.15's two HFile readers and checks them against an expectation
// file written beside each HFile (interop/hfile_test.go):
//
//   1. HBase 2.4's reader as shaded in the Hudi bundle, opened the way Hudi's
//      HoodieAvroHFileReader opens it (HoodieHFileUtils.createHFileReader):
//      entry count, a full scan (row and value of every cell, in order),
//      seekTo of every key with Hudi's lookup KeyValue (exact match = 0),
//      seekTo of absent keys (not 0), file info and meta blocks;
//   2. Hudi's native hudi-io reader (org.apache.hudi.io.hfile.HFileReaderImpl):
//      the same checks through its API.
//
// Run as a single-file program, no javac step:
//   java -cp "$BUNDLE:$PYSPARK_JARS/*" interop/HFileCheck.java a.hfile b.hfile ...
// Expectation file <hfile>.expect, one item a line, fields hex-encoded:
//   kv <key> <value> | absent <key> | fi <name> <value> | meta <name> <value>
// It prints "ok <file> <entries>" per file and exits non-zero on the first
// mismatch or exception.
//
// With leading arguments "--write-hbase <out> <entries> <blockSize>
// <indexChunkSize>" it first writes <out> with HBase's own HFile writer
// configured as Hudi configures it (HoodieHBaseKVComparator, GZ) but with
// tiny blocks and index chunks, so the data index has several levels:
// keys "key-%08d", values ("value-" + i) repeated 1 + i % 3 times, file
// info "schema" = "multi", meta block "bloomFilter" = "bloom".

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.Writable;
import org.apache.hudi.common.util.Option;
import org.apache.hudi.common.util.io.ByteBufferBackedInputStream;
import org.apache.hudi.io.ByteArraySeekableDataInputStream;
import org.apache.hudi.io.hadoop.HoodieHFileUtils;
import org.apache.hudi.io.hfile.HFileReader;
import org.apache.hudi.io.hfile.HFileReaderImpl;
import org.apache.hudi.io.hfile.KeyValue;
import org.apache.hudi.io.hfile.UTF8StringKey;
import org.apache.hudi.io.storage.HoodieHBaseKVComparator;
import org.apache.hudi.org.apache.hadoop.hbase.Cell;
import org.apache.hudi.org.apache.hadoop.hbase.CellUtil;
import org.apache.hudi.org.apache.hadoop.hbase.io.compress.Compression;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.CacheConfig;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.HFile;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.HFileBlock;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.HFileContext;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.HFileContextBuilder;
import org.apache.hudi.org.apache.hadoop.hbase.io.hfile.HFileScanner;
import org.apache.hudi.org.apache.hadoop.hbase.nio.ByteBuff;

public class HFileCheck {
  static final HexFormat HEX = HexFormat.of();

  static final class Expect {
    List<byte[][]> kvs = new ArrayList<>();
    List<byte[]> absent = new ArrayList<>();
    List<byte[][]> fileInfo = new ArrayList<>();
    List<byte[][]> meta = new ArrayList<>();
  }

  static byte[] unhex(String s) {
    return s.equals("-") ? new byte[0] : HEX.parseHex(s);
  }

  static Expect readExpect(String file) throws Exception {
    Expect e = new Expect();
    for (String line : Files.readAllLines(Paths.get(file + ".expect"))) {
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split(" ");
      switch (f[0]) {
        case "kv": e.kvs.add(new byte[][] {unhex(f[1]), unhex(f[2])}); break;
        case "absent": e.absent.add(unhex(f[1])); break;
        case "fi": e.fileInfo.add(new byte[][] {unhex(f[1]), unhex(f[2])}); break;
        case "meta": e.meta.add(new byte[][] {unhex(f[1]), unhex(f[2])}); break;
        default: throw new IllegalStateException("bad expect line: " + line);
      }
    }
    return e;
  }

  static void check(boolean ok, String file, String what) {
    if (!ok) {
      throw new AssertionError(file + ": " + what);
    }
  }

  static void checkBytes(byte[] want, byte[] got, String file, String what) {
    if (!Arrays.equals(want, got)) {
      throw new AssertionError(file + ": " + what + ": want " + abbrev(want) + ", got " + abbrev(got));
    }
  }

  static String abbrev(byte[] b) {
    if (b == null) {
      return "null";
    }
    String h = HEX.formatHex(b, 0, Math.min(b.length, 40));
    return b.length > 40 ? h + "...(" + b.length + " bytes)" : h;
  }

  // Hudi's lookup key (HoodieAvroHFileReader): row only, LATEST_TIMESTAMP, Put.
  static org.apache.hudi.org.apache.hadoop.hbase.KeyValue lookup(byte[] row) {
    return new org.apache.hudi.org.apache.hadoop.hbase.KeyValue(row, null, null, null);
  }

  static void checkHBase(String file, Expect e) throws Exception {
    Configuration conf = new Configuration();
    FileSystem fs = FileSystem.getLocal(conf);
    HFile.Reader r = HoodieHFileUtils.createHFileReader(fs, new Path(file), new CacheConfig(conf), conf);
    try {
      check(r.getEntries() == e.kvs.size(), file, "hbase entries " + r.getEntries());
      check(r.getComparator().getClass().getName().endsWith("HoodieHBaseKVComparator"), file,
          "hbase comparator " + r.getComparator().getClass().getName());
      HFileScanner s = r.getScanner(false, false);
      int n = 0;
      if (s.seekTo()) {
        do {
          Cell c = s.getCell();
          check(n < e.kvs.size(), file, "hbase scan: extra cell");
          checkBytes(e.kvs.get(n)[0], CellUtil.cloneRow(c), file, "hbase scan row " + n);
          checkBytes(e.kvs.get(n)[1], CellUtil.cloneValue(c), file, "hbase scan value " + n);
          n++;
        } while (s.next());
      }
      check(n == e.kvs.size(), file, "hbase scan: " + n + " cells");
      for (byte[][] kv : e.kvs) {
        HFileScanner sk = r.getScanner(true, true);
        check(sk.seekTo(lookup(kv[0])) == 0, file, "hbase seek " + abbrev(kv[0]));
        checkBytes(kv[1], CellUtil.cloneValue(sk.getCell()), file, "hbase seek value " + abbrev(kv[0]));
      }
      for (byte[] k : e.absent) {
        HFileScanner sk = r.getScanner(true, true);
        check(sk.seekTo(lookup(k)) != 0, file, "hbase seek of absent " + abbrev(k));
      }
      for (byte[][] fi : e.fileInfo) {
        checkBytes(fi[1], r.getHFileInfo().get(fi[0]), file, "hbase file info " + new String(fi[0]));
      }
      for (byte[][] m : e.meta) {
        HFileBlock b = r.getMetaBlock(new String(m[0]), false);
        check(b != null, file, "hbase meta block " + new String(m[0]));
        ByteBuff buf = b.getBufferWithoutHeader();
        byte[] got = new byte[buf.remaining()];
        buf.get(got);
        checkBytes(m[1], got, file, "hbase meta block " + new String(m[0]));
      }
      // HBase returns the meta block whose name is the floor of the asked
      // one (no exact-match check), so ask for a name before all of them.
      check(r.getMetaBlock("0-absent", false) == null, file, "hbase absent meta block");
    } finally {
      r.close();
    }
  }

  static HFileReader nativeReader(byte[] content) throws Exception {
    HFileReader r = new HFileReaderImpl(
        new ByteArraySeekableDataInputStream(new ByteBufferBackedInputStream(content)), content.length);
    r.initializeMetadata();
    return r;
  }

  static byte[] row(KeyValue kv) {
    byte[] b = kv.getKey().getBytes();
    int off = kv.getKey().getContentOffset();
    return Arrays.copyOfRange(b, off, off + kv.getKey().getContentLength());
  }

  static byte[] value(KeyValue kv) {
    return Arrays.copyOfRange(kv.getBytes(), kv.getValueOffset(), kv.getValueOffset() + kv.getValueLength());
  }

  static void checkNative(String file, Expect e) throws Exception {
    byte[] content = Files.readAllBytes(Paths.get(file));
    try (HFileReader r = nativeReader(content)) {
      check(r.getNumKeyValueEntries() == e.kvs.size(), file, "native entries " + r.getNumKeyValueEntries());
      int n = 0;
      if (r.seekTo()) {
        do {
          KeyValue kv = r.getKeyValue().get();
          check(n < e.kvs.size(), file, "native scan: extra entry");
          checkBytes(e.kvs.get(n)[0], row(kv), file, "native scan key " + n);
          checkBytes(e.kvs.get(n)[1], value(kv), file, "native scan value " + n);
          n++;
        } while (r.next());
      }
      check(n == e.kvs.size(), file, "native scan: " + n + " entries");
    }
    // Forward seeks in key order on one fresh reader, positioned at the
    // first key first, as Hudi's batched lookups do (the native reader's
    // cursor only moves forward).
    try (HFileReader r = nativeReader(content)) {
      r.seekTo(); // seekTo(key) needs a positioned cursor
      for (byte[][] kv : e.kvs) {
        int res = r.seekTo(new UTF8StringKey(kv[0]));
        check(res == HFileReader.SEEK_TO_FOUND, file, "native seek " + abbrev(kv[0]) + " = " + res);
        checkBytes(kv[1], value(r.getKeyValue().get()), file, "native seek value " + abbrev(kv[0]));
      }
      for (byte[][] fi : e.fileInfo) {
        Option<byte[]> got = r.getMetaInfo(new UTF8StringKey(fi[0]));
        check(got.isPresent(), file, "native file info " + new String(fi[0]));
        checkBytes(fi[1], got.get(), file, "native file info " + new String(fi[0]));
      }
      for (byte[][] m : e.meta) {
        Option<ByteBuffer> got = r.getMetaBlock(new String(m[0]));
        check(got.isPresent(), file, "native meta block " + new String(m[0]));
        ByteBuffer bb = got.get();
        byte[] b = new byte[bb.remaining()];
        bb.get(b);
        checkBytes(m[1], b, file, "native meta block " + new String(m[0]));
      }
      check(!r.getMetaBlock("absent-meta").isPresent(), file, "native absent meta block");
    }
    for (byte[] k : e.absent) {
      try (HFileReader r = nativeReader(content)) {
        r.seekTo();
        int res = r.seekTo(new UTF8StringKey(k));
        check(res != HFileReader.SEEK_TO_FOUND, file, "native seek of absent " + abbrev(k));
      }
    }
  }

  static void writeHBase(String out, int n, int blockSize, int indexChunk) throws Exception {
    Configuration conf = new Configuration();
    conf.setInt("hfile.index.block.max.size", indexChunk);
    FileSystem fs = FileSystem.getLocal(conf);
    HFileContext ctx = new HFileContextBuilder().withBlockSize(blockSize)
        .withCompression(Compression.Algorithm.GZ).withCellComparator(new HoodieHBaseKVComparator()).build();
    HFile.Writer w = HFile.getWriterFactory(conf, new CacheConfig(conf))
        .withPath(fs, new Path(out)).withFileContext(ctx).create();
    for (int i = 0; i < n; i++) {
      byte[] key = String.format("key-%08d", i).getBytes("UTF-8");
      byte[] value = ("value-" + i).repeat(1 + i % 3).getBytes("UTF-8");
      w.append(new org.apache.hudi.org.apache.hadoop.hbase.KeyValue(key, null, null, value));
    }
    w.appendFileInfo("schema".getBytes("UTF-8"), "multi".getBytes("UTF-8"));
    w.appendMetaBlock("bloomFilter", new Writable() {
      public void write(java.io.DataOutput o) throws java.io.IOException {
        o.write("bloom".getBytes("UTF-8"));
      }

      public void readFields(java.io.DataInput in) {
      }
    });
    w.close();
    System.out.println("wrote " + out);
  }

  public static void main(String[] args) throws Exception {
    int first = 0;
    if (args.length >= 5 && args[0].equals("--write-hbase")) {
      writeHBase(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
      first = 5;
    }
    for (String file : Arrays.copyOfRange(args, first, args.length)) {
      Expect e = readExpect(file);
      checkHBase(file, e);
      checkNative(file, e);
      System.out.println("ok " + file + " " + e.kvs.size());
    }
  }
}
