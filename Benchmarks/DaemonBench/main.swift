// daemon-bench: what idle connections cost one rasmand, measured from outside the process.
//
//   swift build -c release --product rasmand; swift build -c release --product fakemodem
//   swift build -c release --product daemon-bench
//   .build/release/daemon-bench [--sizes 1,64,256,1024] [--idle 30] [--batch N] [--rasmand PATH] [--fakemodem PATH]
//
// For each size N: one `fakemodem --count N`, one `rasmand --no-discovery` with the N modems
// as --device ports, N dials at once through one RASClient; then, with every line connected
// and idle for --idle seconds, the daemon's CPU (utime + stime from /proc/PID/stat), its
// wake-ups (timeslices from /proc/PID/task/*/schedstat, and voluntary context switches from
// /proc/PID/task/*/status), its RSS; the enumConnections round trip (median of 20); and the
// hang-up of all N (hangUp of every handle until enumConnections is empty, at most 120 s).
// --rasmand and --fakemodem pick other builds (e.g. an older rasmand, to compare);
// --batch N dials N at a time instead of all at once (a daemon too slow to read 1,024
// requests in 5 s loses the client otherwise).
// Traffic per line (64 KiB/s) needs the data channel, which does not exist yet.

import ArgumentParser
import Foundation
import RAS
import RASService
import SoakSupport

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon-bench")

    @Option(help: "Connection counts measured, comma-separated.", transform: { $0.split(separator: ",").compactMap { Int($0) } })
    var sizes = [1, 64, 256, 1024]
    @Option(help: "Seconds the connections stay idle while measured.") var idle = 30.0
    @Option(help: "Dials at once; 0 = all.") var batch = 0
    @Option(help: "The rasmand to run.") var rasmand = executableBesideThisOne("rasmand")
    @Option(help: "The fakemodem to run.") var fakemodem = executableBesideThisOne("fakemodem")
}

/// Counters of a process read from /proc.
struct ProcessSample {
    var cpuTicks: Int = 0
    /// Per thread (tid): timeslices run, voluntary context switches.
    var timeslices: [String: Int] = [:]
    var voluntarySwitches: [String: Int] = [:]
    var rssKiB: Int = 0
    var threads: Int = 0

    init(pid: Int32) {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) { cpuTicks = user + system }
        }
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                rssKiB = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
        }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        threads = tasks.count
        for task in tasks {
            if let schedstat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8) {
                let fields = schedstat.split(whereSeparator: { $0 == " " || $0 == "\n" })
                if fields.count >= 3 { timeslices[task] = Int(fields[2]) ?? 0 }
            }
            if let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) {
                for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
                    voluntarySwitches[task] = Int(line.split(separator: "\t").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "") ?? 0
                }
            }
        }
    }

    /// What the threads alive at `after` counted since `before` (a thread that started in
    /// between counts in full; one that ended in between is lost).
    static func delta(_ before: [String: Int], _ after: [String: Int]) -> Int {
        after.reduce(0) { total, entry in total + max(0, entry.value - (before[entry.key] ?? 0)) }
    }
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

/// Starts a process with stdout to a pipe (read line by line) and stderr to a file.
final class Child: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private var buffer = Data()

    init(_ path: String, _ arguments: [String], log: String) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Reads stdout until `count` lines starting with "ready" arrived.
    func waitForReady(count: Int) throws {
        var seen = 0
        while seen < count {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError("\(process.executableURL?.lastPathComponent ?? "child") exited before it was ready") }
            buffer += chunk
            while let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if line.hasPrefix("ready") { seen += 1 }
            }
        }
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

struct Row {
    var size: Int
    var dialSeconds: Double
    var cpuPercent: Double
    var timeslicesPerSecond: Double
    var switchesPerSecond: Double
    var rssMiB: Double
    var rssPerConnectionKiB: Double
    var listMilliseconds: Double
    var hangUpMilliseconds: Double?
    var threads: Int
}

func run(size: Int, options: Options) async throws -> Row {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-bench-\(size)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: folder + "/lock", withIntermediateDirectories: true)
    defer { if ProcessInfo.processInfo.environment["BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: folder) } }
    let modems = try Child(options.fakemodem, ["--link", folder + "/modem", "--count", "\(size)"], log: folder + "/fakemodem.log")
    defer { modems.stop() }
    try modems.waitForReady(count: size)
    progress("\(size) fake modems ready")
    let links = size == 1 ? [folder + "/modem"] : (0..<size).map { "\(folder)/modem-\($0)" }
    let socket = folder + "/rasmand.sock"
    let daemon = try Child(
        options.rasmand,
        ["--socket", socket, "--lock-dir", folder + "/lock", "--no-discovery", "--log-level",
         ProcessInfo.processInfo.environment["BENCH_LOG_LEVEL"] ?? "warning"]
            + links.flatMap { ["--device", $0] },
        log: folder + "/rasmand.log")
    defer { daemon.stop() }
    try daemon.waitForReady(count: 1)
    let pid = daemon.process.processIdentifier
    let baseline = ProcessSample(pid: pid)

    let client = try await RASClient.connect(socketPath: socket)
    let dialStart = ContinuousClock.now
    var handles: [RasConnectionHandle] = []
    let batch = options.batch > 0 ? options.batch : links.count
    for start in stride(from: 0, to: links.count, by: batch) {
        let chunk = Array(links.enumerated())[start..<min(links.count, start + batch)]
        handles += try await withThrowingTaskGroup(of: RasConnectionHandle.self) { group in
            for (index, link) in chunk {
                group.addTask {
                    let dial = try await client.dial(.number("\(5_550_000 + index)", device: link))
                    for await notification in dial.notifications {
                        if notification.state == .connected { return dial.handle }
                        if notification.state == .disconnected {
                            throw BenchError("dial \(index) failed: \(notification.error.map { "\($0)" } ?? "?")")
                        }
                    }
                    throw BenchError("dial \(index) ended without a state")
                }
            }
            var handles: [RasConnectionHandle] = []
            for try await handle in group { handles.append(handle) }
            return handles
        }
    }
    let dialSeconds = milliseconds(dialStart.duration(to: .now)) / 1000
    progress("\(size) connected after \(dialSeconds) s")
    // Let the dials' own work settle before measuring the idle lines.
    try await Task.sleep(for: .seconds(2))

    let before = ProcessSample(pid: pid)
    let idleStart = ContinuousClock.now
    try await Task.sleep(for: .milliseconds(Int(options.idle * 1000)))
    let after = ProcessSample(pid: pid)
    let idleSeconds = milliseconds(idleStart.duration(to: .now)) / 1000

    var listTimes: [Double] = []
    for _ in 0..<20 {
        let start = ContinuousClock.now
        let connections = try await client.enumConnections()
        listTimes.append(milliseconds(start.duration(to: .now)))
        guard connections.count == size else { throw BenchError("listed \(connections.count) of \(size)") }
    }
    listTimes.sort()

    progress("\(size): idle measured, listing took \(listTimes[listTimes.count / 2]) ms; hanging up")
    let hangUpStart = ContinuousClock.now
    for (index, handle) in handles.enumerated() {
        try await client.hangUp(handle)
        if ProcessInfo.processInfo.environment["BENCH_TRACE"] != nil { progress("hung up \(index)") }
    }
    var hangUp: Double?
    while ContinuousClock.now - hangUpStart < .seconds(120) {
        if try await client.enumConnections().isEmpty {
            hangUp = milliseconds(hangUpStart.duration(to: .now))
            break
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    await client.close()

    return Row(
        size: size, dialSeconds: dialSeconds,
        cpuPercent: Double(after.cpuTicks - before.cpuTicks) / idleSeconds,  // CLK_TCK 100: ticks/s = % of a core
        timeslicesPerSecond: Double(ProcessSample.delta(before.timeslices, after.timeslices)) / idleSeconds,
        switchesPerSecond: Double(ProcessSample.delta(before.voluntarySwitches, after.voluntarySwitches)) / idleSeconds,
        rssMiB: Double(after.rssKiB) / 1024,
        rssPerConnectionKiB: Double(after.rssKiB - baseline.rssKiB) / Double(size),
        listMilliseconds: listTimes[listTimes.count / 2],
        hangUpMilliseconds: hangUp, threads: after.threads)
}

/// A line on stdout, written at once (the table is read while the benchmark runs).
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
func progress(_ text: String) { FileHandle.standardError.write(Data("[\(Date())] \(text)\n".utf8)) }

let options = Options.parseOrExit()
emit("rasmand: \(options.rasmand)")
emit("idle: \(options.idle) s per size")
emit("| connections | all connected after | daemon CPU idle (% of a core) | timeslices/s | voluntary switches/s | RSS | RSS per connection | list round trip (median) | hang-up of all | threads |")
emit("|---|---|---|---|---|---|---|---|---|---|")
for size in options.sizes {
    do {
        let row = try await run(size: size, options: options)
        let hangUp = row.hangUpMilliseconds.map { String(format: "%.0f ms", $0) } ?? "> 120 s"
        emit(String(
            format: "| %d | %.1f s | %.2f %% | %.0f | %.0f | %.1f MiB | %.1f KiB | %.2f ms | %@ | %d |",
            row.size, row.dialSeconds, row.cpuPercent, row.timeslicesPerSecond, row.switchesPerSecond,
            row.rssMiB, row.rssPerConnectionKiB, row.listMilliseconds, hangUp, row.threads))
    } catch {
        emit("| \(size) | failed: \(error) |")
    }
}
