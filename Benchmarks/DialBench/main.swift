// dial-bench: what the dialing stack itself costs, against the fake modem on a pty.
//
//   swift run -c release dial-bench [iterations]
//
// Measures, with the real (default) ModemTiming a deployment uses:
//   - dial → Connected, minus the fake modem's own configured answer delay: the stack's
//     overhead, split into its deliberate pauses (ATZ settle, inter-command pacing) and the
//     rest (processing, pty round trips);
//   - hangUp → ERROR_INVALID_HANDLE for a modem that honours DTR, and for one that ignores
//     DTR (so the +++ guard time and ATH are needed).
import FakeModem
import Foundation
import Hayes
import Logging
import RAS

let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 20
let answerDelay = Duration.milliseconds(200)
let timing = ModemTiming()

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func summary(_ samples: [Duration]) -> String {
    let sorted = samples.map(milliseconds).sorted()
    guard !sorted.isEmpty else { return "no samples" }
    let median = sorted[sorted.count / 2]
    let p90 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.9))]
    return String(format: "median %.1f ms, p90 %.1f ms, min %.1f ms, max %.1f ms (n=%d)",
                  median, p90, sorted[0], sorted[sorted.count - 1], sorted.count)
}

struct Run {
    var connect: Duration
    var hangUp: Duration
}

func measure(faults: FaultSet) async throws -> [Run] {
    var modem = ModemSettings()
    modem.faults = faults
    let scenario = Scenario(modemDefaults: modem, otherwise: .connect("CONNECT 33600", delay: answerDelay))
    let bank = try FakeModemBank(scenario: scenario)
    try await bank.start()
    let locks = FileManager.default.temporaryDirectory.appendingPathComponent("dial-bench-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
    let manager = ConnectionManager(
        configuration: .init(lockDirectory: locks.path, timing: timing),
        logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    var runs: [Run] = []
    for _ in 0..<iterations {
        let start = ContinuousClock.now
        let dial = try await manager.dial(.number("5551234", device: bank.modems[0].slavePath))
        for await notification in dial.notifications where notification.state == .connected || notification.state == .disconnected {
            break
        }
        let connected = ContinuousClock.now
        guard try await manager.connectStatus(dial.handle).state == .connected else {
            print("dial failed: \(try await manager.connectStatus(dial.handle))")
            break
        }
        try await manager.hangUp(dial.handle)
        while (try? await manager.connectStatus(dial.handle)) != nil { try await Task.sleep(for: .milliseconds(1)) }
        runs.append(Run(connect: connected - start, hangUp: ContinuousClock.now - connected))
    }
    await bank.stop()
    try? FileManager.default.removeItem(at: locks)
    return runs
}

let deliberate = timing.resetSettle + timing.interCommand * 2
print("dial-bench: \(iterations) dials per modem kind, default ModemTiming")
print("fake modem answer delay: \(milliseconds(answerDelay)) ms; stack's deliberate pauses (ATZ settle \(milliseconds(timing.resetSettle)) ms + 2 × inter-command \(milliseconds(timing.interCommand)) ms): \(milliseconds(deliberate)) ms")
let honest = try await measure(faults: FaultSet())
print("dial → Connected:                    \(summary(honest.map(\.connect)))")
print("  overhead (minus the modem's delay): \(summary(honest.map { $0.connect - answerDelay }))")
print("  processing (minus deliberate pauses too): \(summary(honest.map { $0.connect - answerDelay - deliberate }))")
print("hangUp → 6, modem honours DTR:       \(summary(honest.map(\.hangUp)))")
let stubborn = try await measure(faults: FaultSet(ignoresDTR: true))
print("hangUp → 6, modem ignores DTR:       \(summary(stubborn.map(\.hangUp)))")
