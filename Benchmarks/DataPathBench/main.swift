// datapath-bench: what the data path costs. The relay (ModemSession.carryData) between a
// connection's pty and the modem port, against socat (a direct pty-to-pty copy, same 16 KiB
// buffer) doing the same copy between a pty it makes and the same port: throughput at several chunk sizes in both directions, and the
// latency of small writes. Then, through the connection manager and a fake modem, how long
// a program on the data path waits to see a carrier loss.
//
//   swift build -c release --product datapath-bench && .build/release/datapath-bench [--megabytes 16] [--pings 2000]
//
// Topology, both relays: program ⇄ pty slave ⇄ [relay] ⇄ modem port (a pty slave) ⇄ the
// bench's "modem" (that pty's master). The bench's own endpoints are the same in both runs.

import FakeModem
import Foundation
import Hayes
import Logging
import RAS
import Serial
import SystemIO

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

func progress(_ text: String) {
    if CommandLine.arguments.contains("--verbose") { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}

func argument(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let number = Int(arguments[index + 1]) else { return value }
    return number
}

let megabytes = argument("--megabytes", default: 16)
let pings = argument("--pings", default: 2000)
let chunkSizes = [64, 1024, 4096, 16384]

/// One relay under test: the program's end of it, and a way to stop it.
struct Rig {
    let modem: PseudoTerminal
    let program: SerialPort
    let stop: () async -> Void
}

/// Our relay: a ModemSession on the modem's pty slave, carrying data to a data-path pty.
func relayRig() async throws -> Rig {
    let modem = try PseudoTerminal()
    let port = try SerialPort(path: modem.slavePath, options: SerialOptions(speed: .b115200))
    let session = ModemSession(port: port, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    let line = try PseudoTerminal()
    let traffic = LineTraffic()
    let task = Task { _ = try? await session.carryData(through: line, traffic: traffic) }
    let program = try SerialPort(path: line.slavePath, options: SerialOptions(speed: .b115200), exclusive: false)
    return Rig(modem: modem, program: program) {
        task.cancel()
        _ = await task.value
        program.close()
        line.close()
        port.close()
        modem.close()
    }
}

/// socat copying between a pty it makes and the modem's pty slave, with the relay's buffer
/// size (16 KiB): only the program's chunk size varies, as for the relay.
func socatRig() async throws -> Rig {
    let modem = try PseudoTerminal()
    let link = FileManager.default.temporaryDirectory.appendingPathComponent("datapath-bench-\(UUID().uuidString.prefix(8))").path
    let process = try ChildProcess(
        executable: "/usr/bin/socat", arguments: ["-b", "16384", "PTY,link=\(link),raw,echo=0", "\(modem.slavePath),raw,echo=0"])
    let deadline = ContinuousClock.now + .seconds(5)
    while !FileManager.default.fileExists(atPath: link) && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(5))
    }
    let program = try SerialPort(path: link, options: SerialOptions(speed: .b115200), exclusive: false)
    // socat opens the modem's slave when it starts; wait until it has.
    while !modem.isSlaveOpen && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    return Rig(modem: modem, program: program) {
        program.close()
        await process.stop(grace: .seconds(2))
        modem.close()
        try? FileManager.default.removeItem(atPath: link)
    }
}

/// Reads `count` bytes from the modem's master.
func drainModem(_ modem: PseudoTerminal, count: Int) async throws -> Int {
    var received = 0
    var buffer = [UInt8](repeating: 0, count: 65536)
    while received < count {
        let got = try modem.readNow(into: &buffer)
        if got > 0 { received += got; continue }
        _ = try await modem.waitForActivity(deadline: .now + .seconds(10))
    }
    return received
}

/// Writes `count` bytes into the modem's master, `chunk` at a time.
func feedModem(_ modem: PseudoTerminal, count: Int, chunk: Int) async throws {
    let block = [UInt8](repeating: 0x55, count: chunk)
    var sent = 0
    while sent < count {
        let piece = block.prefix(min(chunk, count - sent))
        let written = try modem.writeNow(piece)
        sent += written
        if written < piece.count { _ = try await modem.waitUntilWritable(deadline: .now + .seconds(10)) }
    }
}

/// MB/s from the program to the modem, and from the modem to the program.
func throughput(_ rig: Rig, chunk: Int, bytes: Int) async throws -> (up: Double, down: Double) {
    let block = [UInt8](repeating: 0xAA, count: chunk)
    var start = ContinuousClock.now
    let modem = rig.modem
    let reader = Task { try await drainModem(modem, count: bytes) }
    var sent = 0
    while sent < bytes {
        try await rig.program.write(block.prefix(min(chunk, bytes - sent)), deadline: .now + .seconds(10))
        sent += chunk
    }
    _ = try await reader.value
    let up = Double(bytes) / 1e6 / (milliseconds(start.duration(to: .now)) / 1000)
    progress("  chunk \(chunk): up done")

    start = .now
    let feeder = Task { try await feedModem(modem, count: bytes, chunk: chunk) }
    var received = 0
    while received < bytes {
        let got = try await rig.program.read(maxCount: 65536, deadline: .now + .seconds(5)).count
        if got == 0 { progress("  stalled at \(received) of \(bytes)"); break }
        received += got
    }
    try await feeder.value
    let down = Double(bytes) / 1e6 / (milliseconds(start.duration(to: .now)) / 1000)
    return (up, down)
}

/// Program → modem latency of a 1-byte write, in ms: p50, p99.
func latency(_ rig: Rig, samples: Int) async throws -> (p50: Double, p99: Double) {
    var times: [Double] = []
    var buffer = [UInt8](repeating: 0, count: 64)
    for _ in 0..<(samples + 50) {
        let start = ContinuousClock.now
        try await rig.program.write([0x42], deadline: .now + .seconds(5))
        var got = 0
        while got == 0 {
            got = try rig.modem.readNow(into: &buffer)
            if got == 0 { _ = try await rig.modem.waitForActivity(deadline: .now + .seconds(5)) }
        }
        times.append(milliseconds(start.duration(to: .now)))
    }
    let sorted = times.dropFirst(50).sorted()  // the first ones warm up
    return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
}

/// Through the manager: from the fake modem writing NO CARRIER to the program on the data
/// path reading EOF/EIO, in ms, over `rounds` calls.
func carrierLossTimes(rounds: Int) async throws -> [Double] {
    var modem = ModemSettings()
    modem.registers[10] = 1
    let scenario = Scenario(modemDefaults: modem, otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(
        ConnectSpec(result: ResultCode(text: "CONNECT 33600", code: 1), carrierDropAfter: .milliseconds(300)))))
    let bank = try FakeModemBank(scenario: scenario, count: 1)
    try await bank.start()
    let locks = FileManager.default.temporaryDirectory.appendingPathComponent("datapath-bench-locks-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
    var timing = ModemTiming()
    timing.escapeGuard = .milliseconds(250)
    let manager = ConnectionManager(configuration: .init(lockDirectory: locks, timing: timing),
                                    logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    var results: [Double] = []
    for _ in 0..<rounds {
        let dial = try await manager.dial(.number("5551234", device: bank.modems[0].slavePath))
        for await notification in dial.notifications where notification.state == .connected || notification.state == .disconnected { break }
        guard let path = try await manager.connectStatus(dial.handle).dataPath else { continue }
        let program = try SerialPort(path: path, options: SerialOptions(speed: .b115200), exclusive: false)
        while true {
            do { _ = try await program.read(deadline: .now + .seconds(5)) } catch { break }
        }
        let seen = Date()
        let noCarrier = bank.transcript.last(where: { $0.direction == .toComputer && $0.payload.contains("NO CARRIER") })
        if let noCarrier { results.append(seen.timeIntervalSince(noCarrier.date) * 1000) }
        program.close()
        try await manager.hangUp(dial.handle)
        while (try? await manager.connectStatus(dial.handle)) != nil { try await Task.sleep(for: .milliseconds(5)) }
    }
    _ = await manager.shutdown()
    await bank.stop()
    try? FileManager.default.removeItem(atPath: locks)
    return results
}

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
let bytes = megabytes << 20
let rounds = argument("--rounds", default: 5)
say("datapath-bench: \(megabytes) MiB per run (1/8 of it for 64-byte writes), medians of \(rounds) alternating runs, \(pings) pings; relay = swift-ras ModemSession.carryData, socat = socat -b 16384 PTY ⇄ port; chunk = the size of each write")
say("")
say("chunk   relay up   socat up   ratio | relay down  socat down  ratio   (MB/s)")
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
for chunk in chunkSizes {
    let size = chunk < 1024 ? bytes / 8 : bytes
    // Alternate the two, `rounds` times each, and report medians: on a small machine the
    // bench's own ends compete with the relay for the same cores.
    var ours: [(up: Double, down: Double)] = []
    var theirs: [(up: Double, down: Double)] = []
    for _ in 0..<rounds {
        let relay = try await relayRig()
        ours.append(try await throughput(relay, chunk: chunk, bytes: size))
        await relay.stop()
        let socat = try await socatRig()
        theirs.append(try await throughput(socat, chunk: chunk, bytes: size))
        await socat.stop()
    }
    let (ourUp, ourDown) = (median(ours.map(\.up)), median(ours.map(\.down)))
    let (theirUp, theirDown) = (median(theirs.map(\.up)), median(theirs.map(\.down)))
    say(String(format: "%5d   %8.1f   %8.1f   %4.2f | %10.1f  %10.1f   %4.2f",
               chunk, ourUp, theirUp, ourUp / theirUp, ourDown, theirDown, ourDown / theirDown))
}
say("")
let relay = try await relayRig()
let ourLatency = try await latency(relay, samples: pings)
await relay.stop()
let socat = try await socatRig()
let theirLatency = try await latency(socat, samples: pings)
await socat.stop()
say(String(format: "1-byte write, program → modem: relay p50 %.3f ms p99 %.3f ms | socat p50 %.3f ms p99 %.3f ms",
             ourLatency.p50, ourLatency.p99, theirLatency.p50, theirLatency.p99))
let losses = try await carrierLossTimes(rounds: 5).sorted()
say(String(format: "carrier loss → program sees EOF/EIO (NO CARRIER written → read ends), %d calls: median %.1f ms, max %.1f ms",
             losses.count, losses.isEmpty ? 0 : losses[losses.count / 2], losses.last ?? 0))
