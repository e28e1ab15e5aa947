import Prometheus
import RAS
import RASMetrics
import Testing

/// The metrics' bookkeeping, fed observations by hand; the endpoint and the real sources
/// are tested through rasmand (RASServiceTests' MetricsProcessTests).
struct DaemonMetricsTests {
    static func connection(_ handle: UInt64, device: String = "/dev/ttyS0", direction: RasConnectionDirection = .outgoing) -> RasConnection {
        var record = RasConnection(
            handle: RasConnectionHandle(rawValue: handle), entryName: "Work", deviceName: device, phoneNumber: "5551234",
            state: .connected)
        record.direction = direction
        return record
    }

    static func statistics(_ handle: UInt64, sent: Int, received: Int) -> RasConnectionStatistics {
        RasConnectionStatistics(handle: RasConnectionHandle(rawValue: handle), bytesSent: sent, bytesReceived: received)
    }

    /// The exposition's sample lines, without HELP and TYPE.
    static func lines(_ metrics: DaemonMetrics) -> Set<String> {
        Set(metrics.registry.emitToString().split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
    }

    @Test func dialsAreCountedByResultAndTimedWhenTheyConnect() {
        let metrics = DaemonMetrics()
        metrics.observe(.dialEnded(Self.connection(1), error: nil, duration: .milliseconds(1500)))
        metrics.observe(.dialEnded(Self.connection(2), error: .lineBusy, duration: .milliseconds(300)))
        metrics.observe(.dialEnded(Self.connection(3), error: .lineBusy, duration: .milliseconds(300)))
        metrics.observe(.dialEnded(Self.connection(4, direction: .incoming), error: .noCarrier, duration: .seconds(2)))
        let lines = Self.lines(metrics)
        #expect(lines.contains(#"rasman_dials_total{result="0"} 1"#))
        #expect(lines.contains(#"rasman_dials_total{result="676"} 2"#))
        #expect(lines.contains(#"rasman_answers_total{result="679"} 1"#))
        #expect(lines.contains(#"rasman_answers_total{result="0"} 0"#))
        #expect(lines.contains(#"rasman_dial_duration_seconds_count{direction="outgoing"} 1"#), "only dials that connected")
        #expect(lines.contains(#"rasman_dial_duration_seconds_bucket{direction="outgoing",le="2.0"} 1"#))
        #expect(lines.contains(#"rasman_dial_duration_seconds_bucket{direction="outgoing",le="1.0"} 0"#))
        #expect(!lines.contains { $0.hasPrefix(#"rasman_dial_duration_seconds_count{direction="incoming"}"#) })
    }

    @Test func bytesAreCountedOncePerConnectionAndKeptAfterItEnds() {
        let metrics = DaemonMetrics()
        metrics.observe(.statistics(Self.connection(1), Self.statistics(1, sent: 100, received: 40)))
        metrics.observe(.statistics(Self.connection(2, device: "/dev/ttyS1"), Self.statistics(2, sent: 5, received: 7)))
        metrics.observe(.statistics(Self.connection(1), Self.statistics(1, sent: 150, received: 40)))
        #expect(Self.lines(metrics).contains(#"rasman_bytes_sent_total{device="/dev/ttyS0"} 150"#))
        metrics.observe(.removed(Self.connection(1), Self.statistics(1, sent: 160, received: 50), hangUpDuration: .milliseconds(40)))
        // A new connection on the same device adds to it.
        metrics.observe(.statistics(Self.connection(3), Self.statistics(3, sent: 10, received: 1)))
        let lines = Self.lines(metrics)
        #expect(lines.contains(#"rasman_bytes_sent_total{device="/dev/ttyS0"} 170"#), "\(lines.sorted())")
        #expect(lines.contains(#"rasman_bytes_received_total{device="/dev/ttyS0"} 51"#))
        #expect(lines.contains(#"rasman_bytes_sent_total{device="/dev/ttyS1"} 5"#))
        #expect(lines.contains(#"rasman_hangup_duration_seconds_count{direction="outgoing"} 1"#))
        #expect(lines.contains(#"rasman_hangup_duration_seconds_bucket{direction="outgoing",le="0.05"} 1"#))
        #expect(lines.contains(#"rasman_hangup_duration_seconds_bucket{direction="outgoing",le="0.025"} 0"#))
    }

    @Test func labelValuesAreEscaped() {
        let metrics = DaemonMetrics()
        metrics.observe(.statistics(Self.connection(1, device: "odd \"name\"\\"), Self.statistics(1, sent: 1, received: 1)))
        #expect(Self.lines(metrics).contains(#"rasman_bytes_sent_total{device="odd \"name\"\\"} 1"#))
    }

    @Test func theStartingFamiliesAreThereAtZero() async {
        let text = String(decoding: await DaemonMetrics().scrape(), as: UTF8.self)
        for line in [
            #"rasman_connections{state="Connected",direction="outgoing"} 0.0"#, #"rasman_devices{probe="modem"} 0.0"#, #"rasman_listeners{state="idle"} 0.0"#,
            "rasman_rings_total 0", "rasman_caller_id_total 0", "rasman_calls_rejected_total 0", "# TYPE process_open_fds gauge",
        ] {
            #expect(text.contains(line), "\(line) in \(text)")
        }
    }
}

struct MetricsAddressTests {
    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1", 9464), ("localhost:0", "localhost", 0), ("[::1]:9464", "::1", 9464),
        ("0.0.0.0:65535", "0.0.0.0", 65535), ("[fe80::1%eth0]:80", "fe80::1%eth0", 80),
    ])
    func parses(text: String, host: String, port: Int) throws {
        let address = try MetricsAddress(parsing: text)
        #expect(address.host == host && address.port == port)
        #expect(address.description == text)
    }

    @Test(arguments: [
        ("9464", "port is missing"), ("127.0.0.1:", "port must be"), ("127.0.0.1:65536", "port must be"),
        ("::1:9464", "brackets"), (":9464", "host is missing"), ("[::1]9464", "port is missing"), ("[::1:9464", "closing"),
        ("127.0.0.1:+80", "port must be"), ("a b:80", "not a host name"), ("127.0.0.1:00000080", "port must be"),
    ])
    func refuses(text: String, problem: String) {
        #expect {
            _ = try MetricsAddress(parsing: text)
        } throws: { error in
            "\(error)".contains(problem) && "\(error)".contains("HOST:PORT")
        }
    }
}
