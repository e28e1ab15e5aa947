// fakemodem-bench: how many fake modems one process serves, and how close the escape
// guard time comes to S12.
//
//   swift run -c release --scratch-path .build-fakemodem fakemodem-bench [capacity] [guard] [--sizes 64,256,1024]
//
// Capacity: for each size N, one bank of N modems with N SerialPort clients in this same
// process; measures setup time, the AT→OK round trip with all N asking at once, the CPU
// used per second while the modems idle on-hook and while all N sit in loopback calls (the
// case where DTR is sampled every 10 ms), and a 64-byte echo round trip in those calls.
// Guard: with S12=25 (500 ms), sweeps the silence before `+++`, the silence after it and
// the gap between the `+` characters, and reports the shortest accepted and longest
// rejected values. The client's own timing is part of what is measured.

import FakeModem
import Foundation
import Serial

/// CPU time (user + system) of this process so far, from /proc/self/stat.
func cpuTime() -> Duration {
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return .zero }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3, utime field 14, stime field 15.
    guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return .zero }
    return .milliseconds((user + system) * 10)  // CLK_TCK = 100
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

func format(_ value: Double) -> String { String(format: "%.1f", value) }

func percentile(_ values: [Duration], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return milliseconds(sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))])
}

/// A client port with a read buffer.
/// Each client is used by one task at a time (the bench hands it from task to task).
final class Client: @unchecked Sendable {
    let port: SerialPort
    var buffer: [UInt8] = []

    init(_ path: String) throws { port = try SerialPort(path: path, exclusive: false) }

    func send(_ text: String) async throws { try await port.write(Array(text.utf8), deadline: .now + .seconds(5)) }

    /// Reads until `text`; false on timeout.
    func wait(for text: String, timeout: Duration = .seconds(10)) async throws -> Bool {
        let pattern = Array(text.utf8)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = buffer.firstRange(of: pattern) {
                buffer.removeFirst(range.upperBound)
                return true
            }
            if ContinuousClock.now >= deadline { return false }
            buffer += try await port.read(deadline: deadline)
        }
    }

    func drain(for duration: Duration) async throws -> String {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline { buffer += try await port.read(deadline: deadline) }
        defer { buffer.removeAll() }
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Runs `body` for every client at once; returns each one's duration.
func timedForAll(_ clients: [Client], _ body: @escaping @Sendable (Client) async throws -> Void) async throws -> [Duration] {
    try await withThrowingTaskGroup(of: Duration.self) { group in
        for client in clients {
            group.addTask {
                let start = ContinuousClock.now
                try await body(client)
                return ContinuousClock.now - start
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}

struct Failure: Error, CustomStringConvertible { let description: String }

func capacity(size: Int) async throws {
    let setupStart = ContinuousClock.now
    let bank = try FakeModemBank(count: size, transcriptLimit: 1000)
    try await bank.start()
    let clients = try bank.modems.map { try Client($0.slavePath) }
    for client in clients { try await client.send("ATE0S12=5\r") }
    for client in clients where !(try await client.wait(for: "OK\r\n")) { throw Failure(description: "no OK to ATE0") }
    let setup = ContinuousClock.now - setupStart

    let roundTrips = try await timedForAll(clients) { client in
        try await client.send("AT\r")
        guard try await client.wait(for: "OK\r\n") else { throw Failure(description: "no OK") }
    }

    let idleStart = cpuTime()
    try await Task.sleep(for: .seconds(2))
    let idleCPU = milliseconds(cpuTime() - idleStart) / 2

    let dials = try await timedForAll(clients) { client in
        try await client.send("ATD5551234\r")
        guard try await client.wait(for: "CONNECT 115200\r\n") else { throw Failure(description: "no CONNECT") }
    }
    let callStart = cpuTime()
    try await Task.sleep(for: .seconds(2))
    let callCPU = milliseconds(cpuTime() - callStart) / 2

    let payload = String(repeating: "x", count: 63) + "!"
    let echoes = try await timedForAll(clients) { client in
        try await client.send(payload)
        guard try await client.wait(for: "!") else { throw Failure(description: "no echo") }
    }
    await bank.stop()
    for client in clients { client.port.close() }

    print("\(size) modems: setup \(format(milliseconds(setup))) ms; " +
          "AT→OK all at once p50 \(format(percentile(roundTrips, 0.5))) p99 \(format(percentile(roundTrips, 0.99))) max \(format(percentile(roundTrips, 1))) ms; " +
          "dial→CONNECT p50 \(format(percentile(dials, 0.5))) max \(format(percentile(dials, 1))) ms (200 ms scripted); " +
          "64-byte echo p50 \(format(percentile(echoes, 0.5))) max \(format(percentile(echoes, 1))) ms; " +
          "CPU idle on-hook \(format(idleCPU / 10))%, in calls \(format(callCPU / 10))% of one core")
}

/// One escape attempt on a connected client (S12=25, E0); returns whether it was accepted.
/// `before`: silence before the first `+`; `gap`: between the `+`; `after`: silence after
/// the third `+` before a byte is sent (nil: no byte).
func escapeAttempt(_ client: Client, before: Duration, gap: Duration, after: Duration?) async throws -> Bool {
    try await client.send("d")
    try await Task.sleep(for: before)
    for index in 0..<3 {
        if index > 0 { try await Task.sleep(for: gap) }
        try await client.send("+")
    }
    if let after {
        try await Task.sleep(for: after)
        try await client.send("y")
    }
    let seen = try await client.drain(for: .milliseconds(650))
    guard seen.contains("OK\r\n") else { return false }
    try await client.send("ATO\r")
    guard try await client.wait(for: "CONNECT 115200\r\n") else { throw Failure(description: "ATO failed") }
    return true
}

func guardTime() async throws {
    let bank = try FakeModemBank(count: 1, transcriptLimit: 1000)
    try await bank.start()
    let client = try Client(bank.modems[0].slavePath)
    try await client.send("ATE0S12=25\r")
    guard try await client.wait(for: "OK\r\n") else { throw Failure(description: "no OK") }
    try await client.send("ATD1\r")
    guard try await client.wait(for: "CONNECT 115200\r\n") else { throw Failure(description: "no CONNECT") }
    let long = Duration.milliseconds(600)
    let short = Duration.milliseconds(20)
    // Coarse around S12, then 1 ms steps across the threshold.
    let offsets = [440, 460, 480, 490] + Array(494...506) + [510, 520, 540, 560]
    let repeats = 2
    for (label, attempt) in [
        ("silence before +++", { (ms: Int) in (Duration.milliseconds(ms), short, Duration?.none) }),
        ("silence after +++ ", { (ms: Int) in (long, short, Duration?.some(.milliseconds(ms))) }),
        ("gap between the +", { (ms: Int) in (long, Duration.milliseconds(ms), Duration?.none) }),
    ] as [(String, (Int) -> (Duration, Duration, Duration?))] {
        var accepted: [Int] = []
        var rejected: [Int] = []
        var line = ""
        for ms in offsets {
            var results = ""
            for _ in 0..<repeats {
                let (before, gap, after) = attempt(ms)
                let ok = try await escapeAttempt(client, before: before, gap: gap, after: after)
                if ok { accepted.append(ms) } else { rejected.append(ms) }
                results += ok ? "+" : "-"
            }
            line += " \(ms):\(results)"
        }
        print("S12=25 (500 ms), \(label): shortest accepted \(accepted.min().map(String.init) ?? "none") ms, " +
              "longest accepted \(accepted.max().map(String.init) ?? "none") ms, shortest rejected \(rejected.min().map(String.init) ?? "none") ms, " +
              "longest rejected \(rejected.max().map(String.init) ?? "none") ms")
        print("   per value (+ accepted, - rejected):\(line)")
    }
    await bank.stop()
}

var arguments = Array(CommandLine.arguments.dropFirst())
var sizes = [64, 256, 1024]
if let index = arguments.firstIndex(of: "--sizes"), index + 1 < arguments.count {
    sizes = arguments[index + 1].split(separator: ",").compactMap { Int($0) }
    arguments.removeSubrange(index...(index + 1))
}
let runAll = arguments.isEmpty
do {
    if runAll || arguments.contains("capacity") {
        for size in sizes { try await capacity(size: size) }
    }
    if runAll || arguments.contains("guard") { try await guardTime() }
} catch {
    print("fakemodem-bench: \(error)")
}
