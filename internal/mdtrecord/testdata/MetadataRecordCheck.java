// MetadataRecordCheck reads metadata table HFiles written by hoodie's
// internal/mdtrecord with Apache Hudi 0.15's own classes and prints what
// they see, for internal/mdtrecord/java_test.go to compare:
//
//   - both HFile readers Hudi's metadata table uses, HBase's
//     (HoodieHBaseAvroHFileReader) and the native hudi-io one
//     (HoodieNativeAvroHFileReader), open the file, take the writer schema
//     from its "schema" file info and iterate every record (the key field
//     restored from the HFile key);
//   - each record goes through HoodieMetadataPayload, as the metadata
//     table's merge does, and the payload's view is printed;
//   - every key is looked up by getRecordsByKeysIterator;
//   - for base files, the bloom filter and min/max keys are read back.
//
// Run as a single-file program, no javac step:
//   java -cp "$BUNDLE:$PYSPARK_JARS/*" MetadataRecordCheck.java (base|block)=FILE...
// Output, per file: "file <name>", then one line per record (sorted map
// entries), then "bloom <all keys found>" and "minmax <min> <max>" for base
// files. It exits non-zero on any exception or disagreement between the two
// readers.

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.IndexedRecord;
import org.apache.hadoop.conf.Configuration;
import org.apache.hudi.common.bloom.BloomFilter;
import org.apache.hudi.common.model.HoodieRecord;
import org.apache.hudi.common.model.HoodieRecordGlobalLocation;
import org.apache.hudi.common.util.Option;
import org.apache.hudi.common.util.collection.ClosableIterator;
import org.apache.hudi.hadoop.fs.HadoopFSUtils;
import org.apache.hudi.io.hadoop.HoodieHBaseAvroHFileReader;
import org.apache.hudi.io.storage.HoodieAvroHFileReaderImplBase;
import org.apache.hudi.io.storage.HoodieNativeAvroHFileReader;
import org.apache.hudi.metadata.HoodieMetadataPayload;
import org.apache.hudi.storage.StorageConfiguration;
import org.apache.hudi.storage.StoragePath;
import org.apache.hudi.storage.hadoop.HoodieHadoopStorage;

public class MetadataRecordCheck {
  static String describe(GenericRecord r) throws Exception {
    String key = r.get("key").toString();
    int type = (Integer) r.get("type");
    HoodieMetadataPayload p = new HoodieMetadataPayload(Option.of(r));
    StringBuilder sb = new StringBuilder("rec " + key + " type=" + type);
    switch (type) {
      case 1:
      case 2: {
        Map<String, String> entries = new TreeMap<>();
        @SuppressWarnings("unchecked")
        Map<Object, GenericRecord> m = (Map<Object, GenericRecord>) r.get("filesystemMetadata");
        for (Map.Entry<Object, GenericRecord> e : m.entrySet()) {
          entries.put(e.getKey().toString(), e.getValue().get("size") + "/" + e.getValue().get("isDeleted"));
        }
        for (Map.Entry<String, String> e : entries.entrySet()) {
          sb.append(" ").append(e.getKey()).append("=").append(e.getValue());
        }
        sb.append(" live=").append(p.getFilenames()).append(" deleted=").append(p.getDeletions());
        break;
      }
      case 3: {
        GenericRecord cs = (GenericRecord) r.get("ColumnStatsMetadata");
        sb.append(" file=").append(cs.get("fileName")).append(" column=").append(cs.get("columnName"))
            .append(" min=").append(cs.get("minValue")).append(" max=").append(cs.get("maxValue"))
            .append(" colstats=").append(p.getColumnStatMetadata().isPresent());
        break;
      }
      case 4: {
        GenericRecord bf = (GenericRecord) r.get("BloomFilterMetadata");
        sb.append(" bloom=").append(bf.get("type")).append("/").append(bf.get("timestamp"))
            .append("/").append(bf.get("isDeleted")).append(" present=").append(p.getBloomFilterMetadata().isPresent());
        break;
      }
      case 5: {
        GenericRecord ri = (GenericRecord) r.get("recordIndexMetadata");
        HoodieRecordGlobalLocation loc = p.getRecordGlobalLocation();
        sb.append(" partition=").append(loc.getPartitionPath()).append(" fileId=").append(loc.getFileId())
            .append(" millis=").append(ri.get("instantTime"));
        break;
      }
      default:
        throw new IllegalStateException("unknown type " + type);
    }
    return sb.toString();
  }

  static List<String> read(HoodieAvroHFileReaderImplBase reader) throws Exception {
    Schema schema = reader.getSchema();
    List<String> out = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    try (ClosableIterator<HoodieRecord<IndexedRecord>> it = reader.getRecordIterator(schema)) {
      while (it.hasNext()) {
        GenericRecord r = (GenericRecord) it.next().getData();
        keys.add(r.get("key").toString());
        out.add(describe(r));
      }
    }
    List<String> found = new ArrayList<>();
    try (ClosableIterator<HoodieRecord<IndexedRecord>> it = reader.getRecordsByKeysIterator(keys, schema)) {
      while (it.hasNext()) {
        found.add(((GenericRecord) it.next().getData()).get("key").toString());
      }
    }
    if (!found.equals(keys)) {
      throw new IllegalStateException("lookups found " + found + ", want " + keys);
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    StorageConfiguration<?> conf = HadoopFSUtils.getStorageConf(new Configuration());
    for (String arg : args) {
      String[] kindPath = arg.split("=", 2);
      boolean base = kindPath[0].equals("base");
      StoragePath path = new StoragePath(kindPath[1]);
      HoodieHBaseAvroHFileReader hbase = new HoodieHBaseAvroHFileReader(conf, path, Option.empty());
      HoodieNativeAvroHFileReader nativeReader =
          new HoodieNativeAvroHFileReader(new HoodieHadoopStorage(path, conf), path, Option.empty());
      List<String> a = read(hbase);
      List<String> b = read(nativeReader);
      if (!a.equals(b)) {
        throw new IllegalStateException("readers disagree:\n" + a + "\n" + b);
      }
      System.out.println("file " + path.getName());
      for (String s : a) {
        System.out.println(s);
      }
      if (base) {
        BloomFilter f = hbase.readBloomFilter();
        BloomFilter g = nativeReader.readBloomFilter();
        boolean all = f.serializeToString().equals(g.serializeToString());
        for (String s : a) {
          all &= f.mightContain(s.split(" ")[1]);
        }
        System.out.println("bloom " + f.getBloomFilterTypeCode() + " " + all);
        String[] mm = hbase.readMinMaxRecordKeys();
        String[] mm2 = nativeReader.readMinMaxRecordKeys();
        if (!mm[0].equals(mm2[0]) || !mm[1].equals(mm2[1])) {
          throw new IllegalStateException("min/max keys disagree");
        }
        System.out.println("minmax " + mm[0] + " " + mm[1]);
      }
      hbase.close();
      nativeReader.close();
    }
    System.out.println("done");
  }
}
