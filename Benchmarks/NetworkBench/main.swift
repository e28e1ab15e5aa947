// network-bench: a modem on a terminal server against the same modem on a local pty.
// One fake modem (answering after 200 ms, its far end echoing) is reached both ways in
// alternation: through its pty slave, and through its RFC 2217 front end on loopback
// (fakemodem --listen … --rfc2217). Measured: dial → Connected and hang-up →
// ERROR_INVALID_HANDLE through the connection manager, and the echo throughput of the
// port itself (write N KiB of random bytes, 0xFF included, read them back).
//
//   swift build -c release --product network-bench && .build/release/network-bench [--dials 20] [--kilobytes 256]

import FakeModem
import Foundation
import Hayes
import Logging
import RAS
import Serial
import SystemIO

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func argument(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let number = Int(arguments[index + 1]) else { return value }
    return number
}

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

func summary(_ samples: [Duration]) -> String {
    let sorted = samples.map(milliseconds).sorted()
    guard !sorted.isEmpty else { return "no samples" }
    let median = sorted[sorted.count / 2]
    let p90 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.9))]
    return String(format: "median %.1f ms, p90 %.1f ms, min %.1f ms (n=%d)", median, p90, sorted[0], sorted.count)
}

let dials = argument("--dials", default: 20)
let kilobytes = argument("--kilobytes", default: 256)
let answerDelay = Duration.milliseconds(200)

var modemSettings = ModemSettings()
modemSettings.registers[25] = 0
let scenario = Scenario(modemDefaults: modemSettings, otherwise: .connect("CONNECT 115200", delay: answerDelay))
let bank = try FakeModemBank(scenario: scenario)
try await bank.start()
let modem = bank.modems[0]
let frontEnd = try NetworkFrontEnd(modem: modem, host: "127.0.0.1", port: 0, mode: .rfc2217)
try frontEnd.start()
let locks = FileManager.default.temporaryDirectory.appendingPathComponent("network-bench-\(UUID().uuidString.prefix(8))")
try FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
let manager = ConnectionManager(
    configuration: .init(lockDirectory: locks.path, timing: ModemTiming()),
    logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))

/// Waits until the modem is free again (its slave closed by whoever held it).
func waitUntilIdle() async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while frontEnd.hasClient || modem.isOffHook {
        guard ContinuousClock.now < deadline else { throw BenchFailure("the modem did not come back on-hook") }
        try await Task.sleep(for: .milliseconds(5))
    }
    try await Task.sleep(for: .milliseconds(60))
}

/// Dials `port` through the manager: (dial → Connected, hangUp → 6, the modem's own DTR confirmation).
func dialAndHangUp(_ port: String) async throws -> (Duration, Duration, Duration?) {
    try await waitUntilIdle()
    let mark = modem.transcriptMark
    let start = ContinuousClock.now
    let dial = try await manager.dial(.number("5551234", device: port))
    for await notification in dial.notifications where notification.state == .connected || notification.state == .disconnected { break }
    let connected = ContinuousClock.now - start
    let status = try await manager.connectStatus(dial.handle)
    guard status.state == .connected else { throw BenchFailure("dial on \(port) failed: \(status)") }
    let hangingUp = ContinuousClock.now
    try await manager.hangUp(dial.handle)
    while true {
        do {
            _ = try await manager.connectStatus(dial.handle)
        } catch {
            guard error == .invalidHandle else { throw error }
            break
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    let hungUp = ContinuousClock.now - hangingUp
    let entries = modem.transcript.dropFirst(mark)
    let drop = entries.first { $0.event?.hasPrefix("dtr-drop") == true }?.date
    let onHook = entries.first { $0.event?.hasPrefix("on-hook") == true }?.date
    let confirmed = drop.flatMap { drop in onHook.map { Duration.milliseconds(Int(($0.timeIntervalSince(drop) * 1000).rounded())) } }
    return (connected, hungUp, confirmed)
}

/// Opens `port`, dials, and times `kilobytes` KiB echoed back by the far end.
func throughput(_ open: () async throws -> any ModemPort) async throws -> Double {
    try await waitUntilIdle()
    let port = try await open()
    defer { port.close() }
    try await port.write(Array("ATDT5551234\r".utf8), deadline: .now + .seconds(2))
    var seen: [UInt8] = []
    while !String(decoding: seen, as: UTF8.self).contains("CONNECT") {
        let bytes = try await port.read(deadline: .now + .seconds(5))
        guard !bytes.isEmpty else { throw BenchFailure("no CONNECT") }
        seen += bytes
    }
    try await Task.sleep(for: .milliseconds(50))
    _ = try? port.flush(.input)
    var generator = SystemRandomNumberGenerator()
    let payload = (0..<(kilobytes * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let start = ContinuousClock.now
    let writer = Task {
        var offset = 0
        while offset < payload.count {
            let end = min(payload.count, offset + 4096)
            try await port.write(payload[offset..<end], deadline: .now + .seconds(10))
            offset = end
        }
    }
    var received = 0
    var buffer = [UInt8](repeating: 0, count: 16384)
    while received < payload.count {
        let count = try await port.read(into: &buffer, deadline: .now + .seconds(10))
        guard count > 0 else { throw BenchFailure("echo stalled at \(received) bytes") }
        received += count
    }
    try await writer.value
    let elapsed = milliseconds(ContinuousClock.now - start) / 1000
    _ = try? await port.dropDTR(for: .milliseconds(100))
    return Double(payload.count) / elapsed / 1024
}

print("network-bench: one fake modem (answers after \(milliseconds(answerDelay)) ms, S25=0), a local pty against RFC 2217 on loopback, \(dials) dials each, alternating")
fflush(nil)
var local: [(Duration, Duration, Duration?)] = []
var remote: [(Duration, Duration, Duration?)] = []
for _ in 0..<dials {
    local.append(try await dialAndHangUp(modem.slavePath))
    remote.append(try await dialAndHangUp(frontEnd.url))
}
print("dial → Connected, local pty:          \(summary(local.map(\.0)))")
print("dial → Connected, RFC 2217 loopback:  \(summary(remote.map(\.0)))")
print("hangUp → 6, local pty (B0 as DTR):    \(summary(local.map(\.1)))")
print("hangUp → 6, RFC 2217 (SET-CONTROL DTR): \(summary(remote.map(\.1)))")
print("  the modem's own confirmation (dtr-drop → on-hook), RFC 2217: \(summary(remote.compactMap(\.2)))")
fflush(nil)
let options = SerialOptions(speed: .b115200)
let localRate = try await throughput { try SerialPort(path: modem.slavePath, options: options) }
let remoteRate = try await throughput { try await NetworkPort.open(try NetworkPortAddress(frontEnd.url), options: options) }
print(String(format: "echo throughput, %d KiB random bytes: local pty %.0f KiB/s, RFC 2217 loopback %.0f KiB/s (%.2f×)",
             kilobytes, localRate, remoteRate, remoteRate / localRate))
await frontEnd.stop()
await bank.stop()
try? FileManager.default.removeItem(at: locks)
