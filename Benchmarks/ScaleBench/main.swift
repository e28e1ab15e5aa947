// scale-bench: one rasmand with 1,024 fake modems connected at once.
//
//   swift build -c release --product rasdial      (also builds rasmand and fakemodem)
//   swift build -c release --product scale-bench
//   .build/release/scale-bench [--modems 1024] [--delay 0.2] [--listings 5] [--clients 1] [--rounds 1]
//                              [--rasmand PATH] [--fakemodem PATH] [--rasdial PATH] [--keep]
//
// One `fakemodem --count N` whose exchange connects every number after --delay seconds (the
// modems' own connect delay), one `rasmand --no-discovery` with the N links as --device
// ports and its default timings, N dials at once through --clients RASClients (round robin).
// Measured from outside: the time from the first dial to all N Connected (and that time
// minus the modems' delay), each dial's own time to Connected, the daemon's CPU (utime +
// stime from /proc/PID/stat) for the dials, its RSS idle and with all N connected (memory
// per connection), the real `rasdial` listing (text and --json, process start to exit, each
// checked to list N connections) and RASClient's enumConnections, then the hang-up of all N
// (every hangUp sent at once, until the daemon lists none) and each modem on-hook in the
// fake modems' transcript. --rounds N repeats dial-all / hang-up-all in the same daemon
// (whether RSS after a round is kept for the next one or grows).

import ArgumentParser
import Foundation
import RAS
import RASService
import SoakSupport
#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableCommand, Sendable {
    static let configuration = CommandConfiguration(commandName: "scale-bench")

    @Option(help: "Fake modems connected at once.") var modems = 1024
    @Option(help: "The modems' answer delay, seconds.") var delay = 0.2
    @Option(help: "rasdial listings timed.") var listings = 5
    @Option(help: "Dial-all / hang-up-all rounds in the same daemon.") var rounds = 1
    @Option(help: "Clients dialing at once.") var clients = 1
    @Flag(help: "Keep the bench folder.") var keep = false
    @Option(help: "The rasmand to run.") var rasmand = executableBesideThisOne("rasmand")
    @Option(help: "The fakemodem to run.") var fakemodem = executableBesideThisOne("fakemodem")
    @Option(help: "The rasdial to run.") var rasdial = executableBesideThisOne("rasdial")

    func validate() throws {
        guard modems >= 1, listings >= 1, rounds >= 1, clients >= 1 else {
            throw ValidationError("--modems, --listings, --rounds and --clients must be at least 1")
        }
    }
}

func sampleLine(_ sample: ProcessSample) -> String {
    String(format: "%d fds, RSS %.1f MiB (peak %.1f MiB), %d threads, CPU %.2f s",
           sample.descriptors, sample.rssMiB, Double(sample.peakRSSKiB) / 1024, sample.threads, Double(sample.cpuTicks) / 100)
}

func ptyCount() -> String { ((try? String(contentsOfFile: "/proc/sys/kernel/pty/nr", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines) }

/// Runs the real `rasdial` once; its wall time (start to exit) and stdout.
func runRasdial(_ path: String, _ arguments: [String], folder: String, label: String) async throws -> (Double, String) {
    let start = ContinuousClock.now
    let child = try Child(path, arguments, name: label, folder: folder)
    while child.process.isRunning { try await Task.sleep(for: .microseconds(500)) }
    let elapsed = milliseconds(start.duration(to: .now))
    guard child.process.terminationStatus == 0 else { throw BenchError("rasdial \(arguments) exited \(child.process.terminationStatus): \(child.stderr)") }
    return (elapsed, child.stdout)
}

func main() async throws {
    let options = Options.parseOrExit()
    let count = options.modems
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scale-bench-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: folder + "/lock", withIntermediateDirectories: true)
    emit("scale-bench: \(count) modems, connect delay \(options.delay) s, \(options.clients) client(s); ptys in use before: \(ptyCount())")
    emit("folder: \(folder)")

    let scenario = """
        description: scale-bench, every number connects after \(options.delay) s
        otherwise: {connect: CONNECT 33600, delay: \(options.delay)}
        """
    try Data(scenario.utf8).write(to: URL(fileURLWithPath: folder + "/scale.yaml"))
    let modems = try Child(options.fakemodem, ["--link", folder + "/modem", "--count", "\(count)", "--scenario", folder + "/scale.yaml",
                                               "--transcript", folder + "/transcript.log"], name: "fakemodem", folder: folder)
    try await modems.waitForReady(count: count, timeout: .seconds(120))
    let links = count == 1 ? [folder + "/modem"] : (0..<count).map { "\(folder)/modem-\($0)" }
    progress("\(count) fake modems ready")

    let socket = folder + "/rasmand.sock"
    let daemon = try Child(options.rasmand, ["--socket", socket, "--lock-dir", folder + "/lock", "--no-discovery", "--log-level",
                                             ProcessInfo.processInfo.environment["BENCH_LOG_LEVEL"] ?? "warning"]
                           + links.flatMap { ["--device", $0] }, name: "rasmand", folder: folder)
    try await daemon.waitForReady(count: 1)
    let pid = daemon.pid
    var clients: [RASClient] = []
    for _ in 0..<options.clients { clients.append(try await RASClient.connect(socketPath: socket)) }
    try await Task.sleep(for: .seconds(2))
    let idle = ProcessSample(pid: pid)
    emit("rasmand idle (\(options.clients) client(s) connected): " + sampleLine(idle))

    var clean = true
    for round in 1...options.rounds {
        if options.rounds > 1 { emit("round \(round) of \(options.rounds)") }
        // Every dial at once; each task waits for its own Connected.
        let beforeDials = ProcessSample(pid: pid)
        let dialStart = ContinuousClock.now
        let outcomes = await withTaskGroup(of: (Int, RasConnectionHandle?, Double, String?).self) { group in
            for (index, link) in links.enumerated() {
                let client = clients[index % clients.count]
                group.addTask {
                    do {
                        let dial = try await client.dial(.number("\(5_550_000 + index)", device: link))
                        let seen = try await withTimeout(120, "Connected") { () -> RasDialNotification? in
                            for await notification in dial.notifications where notification.state == .connected || notification.state == .disconnected {
                                return notification
                            }
                            return nil
                        }
                        let elapsed = milliseconds(dialStart.duration(to: .now))
                        if seen?.state == .connected { return (index, dial.handle, elapsed, nil) }
                        return (index, dial.handle, elapsed, "ended \(seen.map { "\($0.state) \($0.error.map { "\($0)" } ?? "")" } ?? "without a state")")
                    } catch {
                        return (index, nil, milliseconds(dialStart.duration(to: .now)), "\(error)")
                    }
                }
            }
            var all: [(Int, RasConnectionHandle?, Double, String?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let allConnectedMs = milliseconds(dialStart.duration(to: .now))
        let connectedNow = ProcessSample(pid: pid)
        let failures = outcomes.filter { $0.3 != nil }
        let handles = outcomes.compactMap(\.1)
        let dialTimes = outcomes.filter { $0.3 == nil }.map(\.2).sorted()
        emit(String(format: "connected: %d of %d; first dial → all Connected: %.0f ms; minus the modems' %.0f ms delay: %.0f ms",
                    count - failures.count, count, allConnectedMs, options.delay * 1000, allConnectedMs - options.delay * 1000))
        emit(String(format: "each dial → its Connected (from the first dial's start): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, last %.0f ms",
                    percentile(dialTimes, 0.5), percentile(dialTimes, 0.9), percentile(dialTimes, 0.99), dialTimes.last ?? .nan))
        for failure in failures.prefix(10) { emit("  dial \(failure.0) failed: \(failure.3 ?? "")") }
        emit(String(format: "rasmand CPU for the dials: %.2f s (utime + stime)", Double(connectedNow.cpuTicks - beforeDials.cpuTicks) / 100))
        try await Task.sleep(for: .seconds(2))
        let peak = ProcessSample(pid: pid)
        emit("rasmand with all connected (+2 s): " + sampleLine(peak))
        emit(String(format: "memory per connection: (%.1f − %.1f MiB) / %d = %.1f KiB", peak.rssMiB, idle.rssMiB, handles.count,
                    Double(peak.rssKiB - idle.rssKiB) / Double(max(1, handles.count))))

        // Listings: the real rasdial, text and JSON, and RASClient.
        var textTimes: [Double] = []
        var jsonTimes: [Double] = []
        for run in 0..<options.listings {
            let (textMs, text) = try await runRasdial(options.rasdial, ["--socket", socket], folder: folder, label: "rasdial-list-\(run)")
            let rows = text.split(separator: "\n").filter { $0.contains("Connected") }.count
            if rows != handles.count { emit("  rasdial listing \(run): \(rows) Connected rows, expected \(handles.count)") }
            textTimes.append(textMs)
            let (jsonMs, json) = try await runRasdial(options.rasdial, ["--socket", socket, "--json"], folder: folder, label: "rasdial-json-\(run)")
            let listed = (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any])?.count ?? -1
            if listed != handles.count { emit("  rasdial --json listing \(run): \(listed) entries, expected \(handles.count)") }
            jsonTimes.append(jsonMs)
        }
        textTimes.sort()
        jsonTimes.sort()
        var clientTimes: [Double] = []
        for _ in 0..<20 {
            let start = ContinuousClock.now
            let listed = try await clients[0].enumConnections()
            clientTimes.append(milliseconds(start.duration(to: .now)))
            if listed.count != handles.count { emit("  enumConnections listed \(listed.count)") }
        }
        clientTimes.sort()
        let version = try await runRasdial(options.rasdial, ["--help"], folder: folder, label: "rasdial-help").0
        emit(String(format: "rasdial listing (process start → exit, %d runs): median %.0f ms, min %.0f, max %.0f", options.listings,
                    percentile(textTimes, 0.5), textTimes.first ?? .nan, textTimes.last ?? .nan))
        emit(String(format: "rasdial --json listing (%d runs): median %.0f ms, min %.0f, max %.0f", options.listings,
                    percentile(jsonTimes, 0.5), jsonTimes.first ?? .nan, jsonTimes.last ?? .nan))
        emit(String(format: "(rasdial --help, no daemon round trip: %.0f ms)", version))
        emit(String(format: "RASClient enumConnections round trip (20): median %.1f ms, max %.1f ms", percentile(clientTimes, 0.5), clientTimes.last ?? .nan))

        // Hang up all at once; until the daemon lists none.
        let beforeHangUp = ProcessSample(pid: pid)
        let hangUpStart = ContinuousClock.now
        let refused = await withTaskGroup(of: String?.self) { group in
            for (index, handle) in handles.enumerated() {
                let client = clients[index % clients.count]
                group.addTask {
                    do { try await client.hangUp(handle); return nil } catch { return "\(handle): \(error)" }
                }
            }
            var refused: [String] = []
            for await outcome in group { if let outcome { refused.append(outcome) } }
            return refused
        }
        var hangUpMs: Double?
        while ContinuousClock.now - hangUpStart < .seconds(120) {
            if try await clients[0].enumConnections().isEmpty {
                hangUpMs = milliseconds(hangUpStart.duration(to: .now))
                break
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let afterHangUp = ProcessSample(pid: pid)
        emit("hang-up of all \(handles.count): " + (hangUpMs.map { String(format: "%.0f ms until none is listed", $0) } ?? "NOT DONE after 120 s")
             + (refused.isEmpty ? "" : "; \(refused.count) hangUp requests refused, e.g. \(refused[0])"))
        emit(String(format: "rasmand CPU for the hang-ups: %.2f s", Double(afterHangUp.cpuTicks - beforeHangUp.cpuTicks) / 100))
        var gone = 0
        for handle in handles {
            do { _ = try await clients[0].connectStatus(handle) } catch { if error == .invalidHandle { gone += 1 } }
        }
        emit("handles answering 6 after the hang-up: \(gone) of \(handles.count)")
        let transcript = TranscriptTail(path: folder + "/transcript.log")
        try await Task.sleep(for: .seconds(1))
        transcript.refresh()
        let offHook = transcript.allHooks.filter { $0.value != .onHook }
        emit("fake modems off-hook after the hang-up: \(offHook.count)" + (offHook.isEmpty ? "" : " (\(offHook.keys.sorted().prefix(5).joined(separator: ", ")) …)"))
        try await Task.sleep(for: .seconds(2))
        emit("rasmand after the hang-up (+3 s, client connected): " + sampleLine(ProcessSample(pid: pid)))
        clean = clean && failures.isEmpty && hangUpMs != nil && offHook.isEmpty
    }
    for client in clients { await client.close() }
    try await Task.sleep(for: .seconds(2))
    emit("rasmand after the hang-up (+2 s, no client): " + sampleLine(ProcessSample(pid: pid)))
    emit("ptys in use at the end: \(ptyCount())")

    await daemon.stop(grace: .seconds(60))
    await modems.stop(grace: .seconds(60))
    if !options.keep && clean { try? FileManager.default.removeItem(atPath: folder) } else { emit("kept: \(folder)") }
}

do {
    try await main()
} catch {
    emit("scale-bench failed: \(error)")
    exit(1)
}
