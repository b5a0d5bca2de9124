"""The Spark session hoodie's Spark interop tests and the race use: Spark 3.5
(pyspark) with the Apache Hudi 0.15.0 bundle, local mode, small memory,
quiet logs.

The bundle jar is resolved once by scripts/spark.sh into the cache directory
(~/.cache/hoodie/spark/jars); HOODIE_SPARK_JAR overrides its path.
HOODIE_HUDI_VERSION selects another bundle version (the reader matrix runs a
second process with Hudi 1.0.2: `scripts/spark.sh 1.0.2` fetches its jar)."""
import atexit
import os
import shutil
import sys
import tempfile

HUDI_VERSION = os.environ.get("HOODIE_HUDI_VERSION") or "0.15.0"
BUNDLE = f"hudi-spark3.5-bundle_2.12-{HUDI_VERSION}.jar"

HERE = os.path.dirname(os.path.abspath(__file__))


def bundle_jar() -> str:
    jar = os.environ.get("HOODIE_SPARK_JAR")
    if not jar:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        jar = os.path.join(cache, "hoodie", "spark", "jars", BUNDLE)
    if not os.path.isfile(jar):
        raise FileNotFoundError(f"Hudi Spark bundle not found at {jar}: run scripts/spark.sh")
    return jar


def session(app: str = "hoodie-interop", master: str = "local[2]", driver_memory: str = "1g", extra: dict | None = None):
    """Starts (or returns) the SparkSession with the configuration Hudi needs:
    Kryo with Hudi's registrar, Hudi's session extension and catalog."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tempfile.mkdtemp(prefix="hoodie-spark-warehouse-")
    atexit.register(shutil.rmtree, warehouse, True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    log4j = os.path.join(HERE, "spark_log4j2.properties")
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} -XX:+UseParallelGC"
    b = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.jars", bundle_jar())
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
        .config("spark.kryo.registrator", "org.apache.spark.HoodieSparkKryoRegistrar")
        .config("spark.sql.extensions", "org.apache.spark.sql.hudi.HoodieSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.hudi.catalog.HoodieCatalog")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
    )
    for k, v in (extra or {}).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
