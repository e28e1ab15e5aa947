import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `rasmand --metrics-listen`, scraped as Prometheus would: with a real HTTP client (curl),
/// the text parsed by the reference parser (`prometheus_client`'s, in /usr/bin/python3).
@Suite(.timeLimit(.minutes(2)), .serialized)
struct MetricsProcessTests {
    @Test func dialsFailuresBytesAndTheProcessAreCounted() async throws {
        try await Bench.run("metrics") { bench in
            let modems = try await bench.startFakeModems(count: 2)
            let daemon = try await bench.startDaemon(
                extra: ["--no-discovery", "--device", modems.links[1], "--metrics-listen", "127.0.0.1:0"])
            let url = try await Self.metricsURL(daemon)
            #expect(url.hasPrefix("http://127.0.0.1:") && !url.hasPrefix("http://127.0.0.1:0/"), "the bound port is logged: \(url)")

            let before = try await Scrape(url)
            #expect(before.value("rasman_dials_total", ["result": "0"]) == 0)
            #expect(before.type(of: "rasman_dials") == "counter")
            #expect(before.value("rasman_connections", ["state": "Connected", "direction": "outgoing"]) == 0)
            #expect(before.type(of: "rasman_connections") == "gauge")
            #expect((before.value("process_resident_memory_bytes") ?? 0) > 1_000_000, "RSS is read from /proc")
            #expect((before.value("process_open_fds") ?? 0) > 3, "fds are counted in /proc/self/fd")

            // A dial that connects, and bytes through its data path (the far end echoes).
            let phonebook = try bench.phonebook([("Work", modems.links[0], "5551234")])
            let dial = try await bench.rasdial(["Work", "--phonebook", phonebook])
            #expect(dial.status == 0, "stderr: \(dial.stderr)")
            let echo = try await DataPathProcessTests.shell(
                "printf 'bytes for the metrics\\n' | socat -t 1 - \(bench.folder)/lines/Work,raw,echo=0")
            #expect(echo.output == "bytes for the metrics\n", "socat: \(echo.output)")

            let connected = try await Scrape(url)
            #expect(connected.value("rasman_connections", ["state": "Connected", "direction": "outgoing"]) == 1, "\(connected.text)")
            #expect(connected.value("rasman_dials_total", ["result": "0"]) == 1)
            #expect(connected.value("rasman_dial_duration_seconds_count", ["direction": "outgoing"]) == 1)
            #expect(connected.type(of: "rasman_dial_duration_seconds") == "histogram")
            #expect(connected.sum("rasman_bytes_sent_total") >= 22, "\(connected.text)")
            #expect(connected.sum("rasman_bytes_received_total") >= 22)
            #expect(connected.value("rasman_devices", ["probe": "not-probed"]) == 1, "the --device port, not probed")
            #expect(connected.value("rasman_devices", ["probe": "modem"]) == 0)

            // A busy number: the dial fails with 676, counted with its number.
            let busy = try await bench.rasdial(["--device", modems.links[1], "--phone", "5550100"])
            #expect(busy.status != 0 && busy.stderr.contains("676"), "\(busy.stderr)")
            let hangUp = try await bench.rasdial(["Work", "--disconnect"])
            #expect(hangUp.status == 0, "\(hangUp.stderr)")

            let after = try await Scrape(url)
            #expect(after.value("rasman_dials_total", ["result": "676"]) == 1, "\(after.text)")
            #expect(after.value("rasman_dials_total", ["result": "0"]) == 1)
            #expect(after.value("rasman_dial_duration_seconds_count", ["direction": "outgoing"]) == 1, "failures are not timed")
            #expect(after.value("rasman_connections", ["state": "Connected", "direction": "outgoing"]) == 0)
            #expect((after.value("rasman_hangup_duration_seconds_count", ["direction": "outgoing"]) ?? 0) >= 2)
            #expect(after.sum("rasman_bytes_sent_total") == connected.sum("rasman_bytes_sent_total"), "an ended connection's bytes stay counted")
            #expect(after.sum("rasman_bytes_received_total") == connected.sum("rasman_bytes_received_total"))

            // Only GET and HEAD of /metrics.
            #expect(try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", url.replacingOccurrences(of: "/metrics", with: "/other")]).stdout == "404")
            #expect(try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url]).stdout == "405")
            let head = try await Self.curl(["-I", url])
            #expect(head.stdout.hasPrefix("HTTP/1.1 200") && head.stdout.lowercased().contains("content-type: text/plain; version=0.0.4"),
                    "\(head.stdout)")

            // SIGTERM closes the endpoint with the rest.
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit() == 0, "\(daemon.stderr)")
            #expect(daemon.stderr.contains("metrics endpoint closed"))
            let gone = try await Self.curl(["-o", "/dev/null", url])
            #expect(gone.status == 7, "nothing listens any more: curl exit \(gone.status)")
        }
    }

    @Test func ringsCallerIDAndAnswersAreCounted() async throws {
        try await Bench.run("metrics-answer") { bench in
            try AnsweringProcessTests.writeExchange(bench)
            let modems = try await bench.startFakeModems(count: 2)
            let book = bench.folder + "/lines.pbk"
            try AnsweringProcessTests.outAndLine(modems.links)
                .write(toFile: book, atomically: true, encoding: .utf8)
            let daemon = try await bench.startDaemon(
                extra: ["--no-discovery", "--answer", "Line", "--answer-phonebook", book, "--metrics-listen", "127.0.0.1:0"])
            let url = try await Self.metricsURL(daemon)
            _ = try #require(try await AnsweringProcessTests.waitForLine(bench, "idle"))
            let idle = try await Scrape(url)
            #expect(idle.value("rasman_listeners", ["state": "idle"]) == 1, "\(idle.text)")
            #expect(idle.value("rasman_rings_total") == 0)

            let dial = try await bench.rasdial(["Out", "--phonebook", book])
            #expect(dial.status == 0, "the call is answered: \(dial.stderr)")
            // Rings and caller ID come through the watch stream, a moment after they happen.
            #expect(await TestSupport.eventually {
                guard let scrape = try? await Scrape(url) else { return false }
                return scrape.value("rasman_connections", ["state": "Connected", "direction": "incoming"]) == 1
                    && scrape.value("rasman_caller_id_total") == 1
            })
            let call = try await Scrape(url)
            #expect((call.value("rasman_rings_total") ?? 0) >= 1, "\(call.text)")
            #expect(call.value("rasman_caller_id_total") == 1)
            #expect(call.value("rasman_answers_total", ["result": "0"]) == 1)
            #expect(call.value("rasman_dials_total", ["result": "0"]) == 1)
            #expect(call.value("rasman_dial_duration_seconds_count", ["direction": "incoming"]) == 1)
            #expect(call.value("rasman_listeners", ["state": "in-call"]) == 1)
            #expect(call.value("rasman_listeners", ["state": "idle"]) == 0, "a state that emptied reads 0")
            _ = try await bench.rasdial(["--disconnect"])
        }
    }

    @Test func aBadAddressIsABadOptionAndATakenPortStopsTheDaemon() async throws {
        try await Bench.run("metrics-options") { bench in
            for bad in ["9464", "localhost", "127.0.0.1:", "127.0.0.1:65536", "::1:9464", ":9464", "127.0.0.1:94x"] {
                let daemon = try Spawned(try Binaries.url("rasmand"), bench.daemonArguments + ["--metrics-listen", bad],
                                         name: "rasmand-bad", folder: bench.folder)
                bench.adopt(daemon)
                #expect(try await daemon.waitForExit() == 2, "'\(bad)': \(daemon.stderr)")
                #expect(daemon.stderr.contains("--metrics-listen") && daemon.stderr.contains("HOST:PORT"), "\(daemon.stderr)")
            }
            let first = try await bench.startDaemon(extra: ["--no-discovery", "--metrics-listen", "127.0.0.1:0"])
            let url = try await Self.metricsURL(first)
            let port = try #require(URL(string: url)?.port)
            let socket = bench.folder + "/second.sock"
            let second = try Spawned(
                try Binaries.url("rasmand"),
                ["--socket", socket, "--lock-dir", bench.lockDir, "--no-discovery", "--metrics-listen", "127.0.0.1:\(port)"],
                name: "rasmand-second", folder: bench.folder)
            bench.adopt(second)
            #expect(try await second.waitForExit() == 1, "\(second.stderr)")
            #expect(second.stderr.contains("rasmand: cannot serve metrics on 127.0.0.1:\(port): the port is in use"), "\(second.stderr)")
            #expect(!FileManager.default.fileExists(atPath: socket), "the second daemon's socket is removed")
            #expect(try await Scrape(url).value("rasman_dials_total", ["result": "0"]) == 0, "the first one still serves")
        }
    }

    /// A client that sends half a request and waits, and one that sends too much, hold up
    /// nobody: a scrape is answered meanwhile, the big one is cut off, the idle one closed
    /// at the connection deadline (10 s).
    @Test func slowAndOversizedClientsStallNothing() async throws {
        try await Bench.run("metrics-slow") { bench in
            let daemon = try await bench.startDaemon(extra: ["--no-discovery", "--metrics-listen", "127.0.0.1:0"])
            let url = try await Self.metricsURL(daemon)
            let port = try #require(URL(string: url)?.port)
            let script = """
                import socket, sys, time
                s = socket.create_connection(("127.0.0.1", \(port)))
                s.sendall(b"GET /metr")
                print("open", flush=True)
                start = time.monotonic()
                data = s.recv(4096)
                print("closed %.1f %d" % (time.monotonic() - start, len(data)), flush=True)
                """
            let idle = try Spawned(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script], name: "idle-client", folder: bench.folder)
            bench.adopt(idle)
            #expect(await TestSupport.eventually { idle.stdout.contains("open") })

            let start = ContinuousClock.now
            let scrape = try await Scrape(url)
            #expect(ContinuousClock.now - start < .seconds(3), "answered while the idle client waits")
            #expect(scrape.value("rasman_dials_total", ["result": "0"]) == 0)

            let big = String(repeating: "x", count: 20_000)
            let oversized = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: \(big)", url])
            #expect(oversized.status != 0 && oversized.stdout == "000", "cut off: curl exit \(oversized.status), \(oversized.stdout)")
            #expect(try await Scrape(url).value("rasman_dials_total", ["result": "0"]) == 0, "still serving")

            #expect(try await idle.waitForExit(timeout: .seconds(30)) == 0, "\(idle.stderr)")
            let closed = idle.stdoutLines.last { $0.hasPrefix("closed ") } ?? ""
            let fields = closed.split(separator: " ")
            let seconds = fields.count == 3 ? Double(fields[1]) ?? 0 : 0
            #expect(seconds >= 8 && seconds <= 20 && fields.last == "0", "closed unanswered at the deadline: \(closed)")
        }
    }

    // MARK: Helpers

    /// The metrics URL the daemon logged (`serving metrics` with `url=…`).
    static func metricsURL(_ daemon: Spawned) async throws -> String {
        var found: String?
        _ = await TestSupport.eventually {
            found = daemon.stderr.split(separator: "\n").first { $0.contains("serving metrics") }
                .flatMap { line in line.split(separator: " ").first { $0.hasPrefix("url=") } }
                .map { String($0.dropFirst(4)) }
            return found != nil
        }
        return try #require(found, "rasmand logs where it serves metrics: \(daemon.stderr)")
    }

    /// Runs curl (`-sS`, 10 s at most) with `arguments`.
    static func curl(_ arguments: [String]) async throws -> CommandResult {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is needed (.ci/run installs it)")
        return try await run("/usr/bin/curl", ["-sS", "--max-time", "10"] + arguments)
    }

    /// Runs a program with `input` on its stdin; its status and output.
    static func run(_ path: String, _ arguments: [String], input: String = "") async throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let folder = try TestSupport.temporaryDirectory("metrics-run").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let inputPath = folder + "/in", outputPath = folder + "/out", errorPath = folder + "/err"
        try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              FileManager.default.createFile(atPath: errorPath, contents: nil),
              let stdin = FileHandle(forReadingAtPath: inputPath), let stdout = FileHandle(forWritingAtPath: outputPath),
              let stderr = FileHandle(forWritingAtPath: errorPath) else { throw HarnessError.files(folder) }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
    }
}

/// One scrape of `/metrics` with curl, parsed by `prometheus_client`'s text parser.
struct Scrape {
    struct Sample: Decodable {
        let family: String
        let type: String
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// The text as served.
    let text: String
    /// Every sample the parser found.
    let samples: [Sample]

    /// The reference parser: every sample of every family, as JSON. It raises on text that
    /// is not the exposition format, and the scrape fails.
    static let parser = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            for sample in family.samples:
                out.append({"family": family.name, "type": family.type, "name": sample.name,
                            "labels": sample.labels, "value": sample.value})
        print(json.dumps(out))
        """

    init(_ url: String) async throws {
        let fetched = try await MetricsProcessTests.curl(["--fail", url])
        try #require(fetched.status == 0, "curl \(url): exit \(fetched.status), \(fetched.stderr)")
        text = fetched.stdout
        let parsed = try await MetricsProcessTests.run("/usr/bin/python3", ["-c", Self.parser], input: text)
        try #require(
            parsed.status == 0,
            "prometheus_client's parser (python3-prometheus-client; .ci/run installs it) refused the text: \(parsed.stderr)\n\(text)")
        samples = try JSONDecoder().decode([Sample].self, from: Data(parsed.stdout.utf8))
    }

    /// The value of the sample `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum of every sample `name`, whatever its labels.
    func sum(_ name: String) -> Double {
        samples.filter { $0.name == name }.reduce(0) { $0 + $1.value }
    }

    /// The type of the family `family` (`counter`, `gauge`, `histogram`).
    func type(of family: String) -> String? {
        samples.first { $0.family == family }?.type
    }
}
