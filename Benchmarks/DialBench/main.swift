// dial-bench: what the dialing stack itself costs, against the fake modem on a pty.
//
//   swift run -c release dial-bench [iterations] [--runs N] [--s12 N]
//   dial-bench --side-by-side --runs N --modem LINK --transcript FILE ...   (see SideBySide.swift;
//                                                     Benchmarks/dial-side-by-side.sh runs it)
//
// Measures, with the real (default) ModemTiming a deployment uses:
//   - dial → Connected, minus the fake modem's own configured answer delay: the stack's
//     overhead (processing and pty round trips; there are no fixed waits);
//   - hangUp → ERROR_INVALID_HANDLE for a modem that honours DTR, and for one that ignores
//     DTR (so the +++ guard time and ATH are needed). `--s12 N` sets the fake modems' S12
//     (escape guard time in fiftieths of a second; factory 50), which the stack reads at
//     init and uses for +++.
import FakeModem
import Foundation
import Hayes
import Logging
import RAS

/// The command line: `[iterations]`, `--runs N`, `--s12 N`, or `--side-by-side` and its options.
struct Arguments {
    var iterations = 20
    var s12: Int?
    var sideBySide: SideBySideOptions?

    init(_ words: [String]) throws {
        var words = words[...]
        var side = SideBySideOptions()
        var isSideBySide = false
        func value(_ flag: String) throws -> String {
            guard let next = words.popFirst() else { throw BenchFailure("\(flag) needs a value") }
            return next
        }
        func number(_ flag: String) throws -> Int {
            guard let parsed = Int(try value(flag)), parsed > 0 else { throw BenchFailure("\(flag) takes a positive number") }
            return parsed
        }
        while let word = words.popFirst() {
            switch word {
            case "--runs": iterations = try number(word); side.runs = iterations
            case "--s12": s12 = try number(word)
            case "--side-by-side": isSideBySide = true
            case "--modem": side.modem = try value(word)
            case "--transcript": side.transcript = try value(word)
            case "--chat": side.chat = try value(word)
            case "--chat-script": side.chatScript = try value(word)
            case "--wvdial": side.wvdial = try value(word)
            case "--wvdial-config": side.wvdialConfig = try value(word)
            case "--wvdial-section": side.wvdialSection = try value(word)
            case "--rasdial": side.rasdial = try value(word)
            case "--socket": side.socket = try value(word)
            case "--phonebook": side.phonebook = try value(word)
            case "--entry": side.entry = try value(word)
            case "--settle-ms": side.settle = .milliseconds(try number(word))
            default:
                guard let count = Int(word), count > 0 else { throw BenchFailure("unknown argument '\(word)'") }
                iterations = count
                side.runs = count
            }
        }
        if isSideBySide {
            guard side.missing.isEmpty else { throw BenchFailure("--side-by-side needs \(side.missing.joined(separator: ", "))") }
            sideBySide = side
        }
    }
}

let arguments: Arguments
do {
    arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
} catch {
    print("dial-bench: \(error)")
    exit(2)
}
if let side = arguments.sideBySide {
    do {
        try await runSideBySide(side)
        exit(0)
    } catch {
        print("dial-bench: \(error)")
        exit(1)
    }
}

let iterations = arguments.iterations
let answerDelay = Duration.milliseconds(200)
let timing = ModemTiming()

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func summary(_ samples: [Duration]) -> String {
    let sorted = samples.map(milliseconds).sorted()
    guard !sorted.isEmpty else { return "no samples" }
    return String(format: "median %.1f ms, p90 %.1f ms, min %.1f ms, max %.1f ms (n=%d)",
                  median(sorted) ?? 0, percentile(sorted, 0.9), sorted[0], sorted[sorted.count - 1], sorted.count)
}

struct Run {
    var connect: Duration
    var hangUp: Duration
    /// dial → the fake modem notices the port was opened (its sampler looks every 20 ms; a
    /// real modem has no such delay).
    var modemSawOpen: Duration?
    /// The modem's own time to confirm a DTR drop (dtr-drop → on-hook in its transcript,
    /// S25's debounce included).
    var modemConfirmed: Duration?
}

/// The time between the first transcript events starting with `from` and `to`.
func between(_ entries: [TranscriptEntry], _ from: String, _ to: String) -> Duration? {
    guard let first = entries.first(where: { $0.event?.hasPrefix(from) == true })?.date,
          let second = entries.first(where: { $0.event?.hasPrefix(to) == true && $0.date >= first })?.date else { return nil }
    return .milliseconds(Int((second.timeIntervalSince(first) * 1000).rounded()))
}

func measure(faults: FaultSet, s12: Int?) async throws -> [Run] {
    var modem = ModemSettings()
    modem.faults = faults
    if let s12 { modem.registers[12] = s12 }
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
        let mark = bank.modems[0].transcript.count
        let startDate = Date()
        let start = ContinuousClock.now
        let dial = try await manager.dial(.number("5551234", device: bank.modems[0].slavePath))
        for await notification in dial.notifications where notification.state == .connected || notification.state == .disconnected {
            break
        }
        let connected = ContinuousClock.now
        let status = try await manager.connectStatus(dial.handle)
        // From the hangUp call until connectStatus fails with ERROR_INVALID_HANDLE (6); a
        // failed dial is hung up too.
        let hangingUp = ContinuousClock.now
        try await manager.hangUp(dial.handle)
        while true {
            do {
                _ = try await manager.connectStatus(dial.handle)
            } catch {
                guard error == .invalidHandle else { throw error }
                break
            }
            guard ContinuousClock.now - hangingUp < .seconds(60) else { throw BenchFailure("no ERROR_INVALID_HANDLE 60 s after hangUp") }
            try await Task.sleep(for: .milliseconds(1))
        }
        guard status.state == .connected else {
            print("dial failed: \(status)")
            break
        }
        let hungUp = ContinuousClock.now - hangingUp
        let entries = Array(bank.modems[0].transcript.dropFirst(mark))
        let sawOpen = entries.first { $0.event == "slave-open" }.map { Duration.milliseconds(Int(($0.date.timeIntervalSince(startDate) * 1000).rounded())) }
        runs.append(Run(connect: connected - start, hangUp: hungUp, modemSawOpen: sawOpen,
                        modemConfirmed: between(entries, "dtr-drop", "on-hook")))
    }
    await bank.stop()
    try? FileManager.default.removeItem(at: locks)
    return runs
}

print("dial-bench: \(iterations) dials per modem kind, default ModemTiming")
print("fake modem answer delay: \(milliseconds(answerDelay)) ms; the stack's pause between commands: \(milliseconds(timing.interCommand)) ms (none unless a modem needs one)")
let s12 = arguments.s12.map { "S12 = \($0) (\($0 * 20) ms guard time)" } ?? "S12 = 50 (factory)"
print("fake modems: \(s12)")
fflush(nil)
let honest = try await measure(faults: FaultSet(), s12: arguments.s12)
print("dial → Connected:                    \(summary(honest.map(\.connect)))")
print("  overhead (minus the modem's delay): \(summary(honest.map { $0.connect - answerDelay }))")
print("  the fake modem noticing the open:   \(summary(honest.compactMap(\.modemSawOpen)))")
print("  overhead once the modem saw the open: \(summary(honest.compactMap { run in run.modemSawOpen.map { run.connect - answerDelay - $0 } }))")
print("hangUp → 6, modem honours DTR:       \(summary(honest.map(\.hangUp)))")
print("  the modem's confirmation (dtr-drop → on-hook): \(summary(honest.compactMap(\.modemConfirmed)))")
print("  beyond the modem's confirmation:    \(summary(honest.compactMap { run in run.modemConfirmed.map { run.hangUp - $0 } }))")
fflush(nil)
let stubborn = try await measure(faults: FaultSet(ignoresDTR: true), s12: arguments.s12)
print("hangUp → 6, modem ignores DTR:       \(summary(stubborn.map(\.hangUp)))")
if let s12 = arguments.s12 {
    print("  bound 2 × S12 + ATH + 100 ms:       \(2 * s12 * 20 + 100) ms + ATH")
}
