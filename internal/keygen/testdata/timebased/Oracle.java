import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

import org.apache.hudi.common.config.TypedProperties;
import org.apache.hudi.keygen.TimestampBasedAvroKeyGenerator;

/**
 * Computes Hudi 0.15's TimestampBasedAvroKeyGenerator partition paths for
 * the cases on stdin (see README.md). Each line: properties as
 * key=value pairs separated by U+001F, a tab, the value kind (long,
 * double, string or null), a tab, the value. Each output line is the input
 * line, a tab, and the partition path or "ERROR".
 */
public class Oracle {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isEmpty()) {
        continue;
      }
      String[] cols = line.split("\t", -1);
      TypedProperties props = new TypedProperties();
      props.setProperty("hoodie.datasource.write.recordkey.field", "id");
      props.setProperty("hoodie.datasource.write.partitionpath.field", "ts");
      for (String kv : cols[0].split("\u001f")) {
        int eq = kv.indexOf('=');
        props.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
      }
      String result;
      try {
        TimestampBasedAvroKeyGenerator g = new TimestampBasedAvroKeyGenerator(props);
        Object v;
        switch (cols[1]) {
          case "long": v = Long.parseLong(cols[2]); break;
          case "double": v = Double.parseDouble(cols[2]); break;
          case "string": v = cols[2]; break;
          default: v = g.getDefaultPartitionVal();
        }
        result = g.getPartitionPath(v);
      } catch (Throwable e) {
        result = "ERROR"; if (System.getenv("ORACLE_DEBUG") != null) e.printStackTrace();
      }
      System.out.println(line + "\t" + result);
    }
  }
}
