// Package testbroker starts the real message brokers hoodie's stream tests
// read from: an Apache Kafka 4.x broker in KRaft mode (scripts/kafka.sh,
// jars from Maven) and kinesalite for Kinesis (scripts/kinesalite.sh), each
// on 127.0.0.1 with free ports.
//
// A broker is started once per test binary, on the first call of its
// constructor (Kafka), and stopped when the binary exits. A package whose
// tests use one declares
//
//	func TestMain(m *testing.M) { testbroker.Main(m) }
//
// so that the brokers are stopped after m.Run. A broker that cannot start
// fails the test that asked for it: these tests never skip.
package testbroker
