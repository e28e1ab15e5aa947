// soak-bench: many dial / data / hang-up cycles and answered calls through one rasmand,
// with seeded random faults, counting every failure and watching the daemon for leaks.
//
//   swift build -c release --product rasdial      (also builds rasmand and fakemodem)
//   swift build -c release --product soak-bench
//   .build/release/soak-bench [--cycles 10000] [--answers 1000] [--modems 16] [--answer-lines 4]
//                             [--seed 1] [--timeout 60] [--rasmand PATH] [--fakemodem PATH] [--keep]
//
// Real processes throughout: one `rasmand` (its own socket and lock folder, no discovery),
// one `fakemodem` process per soak modem (so that an unplugged modem can be plugged back in:
// its process is restarted under the same link), and one `fakemodem` bank of answer lines
// and their callers. Every modem gets a fault profile (none, noise, late results, duplicated
// results, DTR ignored, ATH ignored), shuffled by the seed; every cycle draws what the
// dialed number does (connect, busy, no carrier, no answer, silence, carrier drop, unplug)
// from the seed and the cycle's number, so a run is reproducible.
//
// A cycle (on its modem's worker, 16 workers at once, each with its own RASClient):
// dial the modem's phonebook entry with the cycle's number; wait for Connected or
// Disconnected; check the outcome against what the number predicts; when connected, write
// 256 bytes (every byte value) to the data path and read the loopback echo; for a drop or an
// unplug wait for the later Disconnected with its error; hang up; wait until status answers
// 6; check in the fake modem's transcript that the modem is on-hook (or unplugged).
//
// An answered call (one worker per answer line, concurrently with the cycles): a caller
// modem of the answer bank dials the line's modem through rasmand (`ring:` in the bank), the
// line (`Answer=1`, listening through RASClient's listen op) answers; the incoming connection
// must be Connected with the caller's number as caller ID, bytes must cross both ways between
// the two data paths, both sides are hung up (alternately the caller or the answerer first),
// both handles must go, both modems must be on-hook and the line idle again.

import ArgumentParser
import Foundation
import RAS
import RASService
import SoakSupport
#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableCommand, Sendable {
    static let configuration = CommandConfiguration(commandName: "soak-bench")

    @Option(help: "Dial / data / hang-up cycles.") var cycles = 10_000
    @Option(help: "Answered calls.") var answers = 1_000
    @Option(help: "Fake modems to dial.") var modems = 16
    @Option(help: "Listening lines that answer.") var answerLines = 4
    @Option(help: "The seed of the faults and outcomes.") var seed: UInt64 = 1
    @Option(help: "Seconds a cycle may take before it counts as hung.") var timeout = 60.0
    @Flag(help: "Keep the bench folder.") var keep = false
    @Option(help: "The rasmand to run.") var rasmand = executableBesideThisOne("rasmand")
    @Option(help: "The fakemodem to run.") var fakemodem = executableBesideThisOne("fakemodem")

    func validate() throws {
        guard modems >= 1, answerLines >= 1 else { throw ValidationError("--modems and --answer-lines must be at least 1") }
    }
}

/// What a soak modem does wrong all the time (its scenario's `faults:`).
enum ModemFault: String, CaseIterable, Sendable {
    case none, noise, lateResults = "late-results", duplicateResults = "duplicate-results"
    case ignoreDTR = "ignore-dtr", ignoreHangup = "ignore-hangup"

    func yaml(seed: UInt64) -> String {
        switch self {
        case .none: "{}"
        case .noise: "{noise: {rate: 1, seed: \(seed % 1_000_000)}}"
        case .lateResults: "{late-results: 0.4}"
        case .duplicateResults: "{duplicate-results: true}"
        case .ignoreDTR: "{ignore-dtr: true}"
        case .ignoreHangup: "{ignore-hangup: true}"
        }
    }
}

/// What the number a cycle dials does, and what RAS must report for it.
enum CallKind: String, CaseIterable, Sendable {
    case normal, busy, noCarrier = "no-carrier", noAnswer = "no-answer", silent, drop, unplug

    var number: String { "555000\(CallKind.allCases.firstIndex(of: self) ?? 0)" }
    /// Out of 100.
    var weight: Int {
        switch self {
        case .normal: 62
        case .busy: 8
        case .noCarrier: 7
        case .noAnswer: 6
        case .silent: 3
        case .drop: 11
        case .unplug: 3
        }
    }
    var scenario: String {
        switch self {
        case .normal: "{number: \"\(number)\", delay: 0.05, connect: CONNECT 33600}"
        case .busy: "{number: \"\(number)\", delay: 0.05, result: BUSY}"
        case .noCarrier: "{number: \"\(number)\", delay: 0.05, result: NO CARRIER}"
        case .noAnswer: "{number: \"\(number)\", delay: 0.05, result: NO ANSWER}"
        case .silent: "{number: \"\(number)\", silence: true}"
        case .drop: "{number: \"\(number)\", delay: 0.05, connect: CONNECT 33600, drop-after: 0.3}"
        case .unplug: "{number: \"\(number)\", delay: 0.05, connect: CONNECT 33600, unplug-after: 0.3}"
        }
    }
    /// The error the dial must end with (0: Connected); for drop and unplug, the error that
    /// follows Connected.
    var expectedError: UInt32 {
        switch self {
        case .normal: 0
        case .busy: 676
        case .noCarrier: 679
        case .noAnswer, .silent: 678
        case .drop: 629
        case .unplug: 630
        }
    }
    var connects: Bool { self == .normal || self == .drop || self == .unplug }

    static func draw(seed: UInt64, cycle: Int) -> CallKind {
        var generator = SplitMix64(seed: seed &* 0x1000_0000_01B3 &+ UInt64(cycle))
        var roll = Int(generator.next() % 100)
        for kind in allCases {
            if roll < kind.weight { return kind }
            roll -= kind.weight
        }
        return .normal
    }
}

/// What kind of failure an error thrown within a cycle is: a wait that timed out, the data
/// path, or a status call (the label and detail of a failed record).
func cycleProblem(_ error: any Error) -> (String, String) {
    switch error {
    case let error as TimedOut: ("timeout", "\(error)")
    case let error as BenchError: ("data", "\(error)")
    default: ("status", "\(error)")
    }
}

struct CycleRecord: Sendable {
    var cycle: Int
    var modem: Int
    var kind: CallKind
    var fault: ModemFault
    var seconds: Double
    /// nil: as predicted.
    var failure: String?
    var detail: String = ""
}

struct AnswerRecord: Sendable {
    var line: Int
    var call: Int
    var answered: Bool
    var seconds: Double
    var failure: String?
    var detail: String = ""
}

/// The results, filled in by every worker.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var cycles: [CycleRecord] = []
    private var answers: [AnswerRecord] = []
    private var nextCycle = 0
    private let total: Int
    private var cap = Int.max
    /// Cycles beyond this are not handed out (yet).
    var limit: Int {
        get { lock.withLock { cap } }
        set { lock.withLock { cap = newValue } }
    }

    init(total: Int) { self.total = total }

    /// The next cycle to run, or nil when all are taken.
    func takeCycle() -> Int? {
        lock.withLock {
            guard nextCycle < min(total, cap) else { return nil }
            defer { nextCycle += 1 }
            return nextCycle
        }
    }
    func add(_ record: CycleRecord) { lock.withLock { cycles.append(record) } }
    func add(_ record: AnswerRecord) { lock.withLock { answers.append(record) } }
    var cycleRecords: [CycleRecord] { lock.withLock { cycles } }
    var answerRecords: [AnswerRecord] { lock.withLock { answers } }
    var counts: (cycles: Int, cycleFailures: Int, answers: Int, answerFailures: Int) {
        lock.withLock {
            (cycles.count, cycles.filter { $0.failure != nil }.count, answers.count, answers.filter { $0.failure != nil }.count)
        }
    }
}

/// One soak modem: its own fakemodem process, restarted after an unplug.
final class SoakModem: @unchecked Sendable {
    let index: Int
    let fault: ModemFault
    let link: String
    let name: String
    private let folder: String
    private let scenarioPath: String
    private let fakemodem: String
    private let lock = NSLock()
    private var child: Child?
    private var generation = 0
    let transcript: TranscriptTail

    init(index: Int, fault: ModemFault, folder: String, fakemodem: String, seed: UInt64) throws {
        self.index = index
        self.fault = fault
        self.folder = folder
        self.fakemodem = fakemodem
        link = folder + "/soak-\(index)"
        name = "soak\(index)"
        scenarioPath = folder + "/soak-\(index).yaml"
        let scenario = """
            description: soak modem \(index), fault \(fault.rawValue)
            modem-defaults:
              registers: {S7: 5, S12: 8}
              faults: \(fault.yaml(seed: seed &+ UInt64(index)))
            modems:
              - {name: \(name), number: "\(5_551_000 + index)"}
            numbers:
            \(CallKind.allCases.map { "  - " + $0.scenario }.joined(separator: "\n"))
            """
        try Data(scenario.utf8).write(to: URL(fileURLWithPath: scenarioPath))
        transcript = TranscriptTail(path: folder + "/soak-\(index).0.transcript")
    }

    /// Starts (or restarts) the modem's process and waits until it is ready.
    func start() async throws {
        let old = lock.withLock { child }
        await old?.stop()
        let next = lock.withLock { () -> Int in generation += 1; return generation }
        let transcriptPath = folder + "/soak-\(index).\(next).transcript"
        transcript.follow(transcriptPath)
        let process = try Child(fakemodem, ["--link", link, "--scenario", scenarioPath, "--transcript", transcriptPath],
                                name: "fakemodem-soak-\(index).\(next)", folder: folder)
        lock.withLock { child = process }
        try await process.waitForReady(count: 1, timeout: .seconds(30))
    }

    var restarts: Int { lock.withLock { generation - 1 } }

    func stop() async {
        let process = lock.withLock { child }
        await process?.stop()
    }
}

/// Waits for the first notification in `stream` that `stop` accepts; returns every one seen.
func notifications(_ stream: AsyncStream<RasDialNotification>, until stop: @escaping @Sendable (RasDialNotification) -> Bool,
                   timeout: Double, what: String) async throws -> [RasDialNotification] {
    try await withTimeout(timeout, what) {
        var seen: [RasDialNotification] = []
        for await notification in stream {
            seen.append(notification)
            if stop(notification) { return seen }
        }
        return seen
    }
}

/// Hangs `handle` up and waits until status answers 6; nil when it did, else why not. A
/// handle already gone before the hang-up is a failure too: RAS keeps an ended connection
/// (a failed dial, a dropped call, an ended incoming call) listed until it is hung up.
func hangUpAndWait(_ client: RASClient, _ handle: RasConnectionHandle, timeout: Double) async -> String? {
    do {
        try await client.hangUp(handle)
    } catch {
        if error == .invalidHandle { return "the handle was gone before the hang-up" }
        return "hangUp: \(error)"
    }
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        do {
            _ = try await client.connectStatus(handle)
        } catch {
            if error == .invalidHandle { return nil }
            return "status after hang-up: \(error)"
        }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return "still listed \(timeout) s after the hang-up"
}

func describe(_ seen: [RasDialNotification]) -> String {
    seen.map { "\($0.state)" + (($0.error?.code).map { $0 == 0 ? "" : "(\($0))" } ?? "") }.joined(separator: " ")
}

/// One dial / data / hang-up cycle on `modem`.
func runCycle(_ cycle: Int, modem: SoakModem, client: RASClient, book: String, options: Options) async -> CycleRecord {
    let kind = CallKind.draw(seed: options.seed, cycle: cycle)
    var record = CycleRecord(cycle: cycle, modem: modem.index, kind: kind, fault: modem.fault, seconds: 0)
    let start = ContinuousClock.now
    func fail(_ failure: String, _ detail: String) -> CycleRecord {
        var failed = record
        failed.failure = failed.failure ?? failure
        failed.detail = failed.detail.isEmpty ? detail : failed.detail + "; " + detail
        failed.seconds = milliseconds(start.duration(to: .now)) / 1000
        return failed
    }

    let dial: RasDialHandle
    do {
        dial = try await client.dial(.entry("S\(modem.index)", phonebookPath: book, phoneNumber: kind.number))
    } catch {
        return fail("dial-refused", "\(error)")
    }
    var problem: (String, String)?
    do {
        let first = try await notifications(dial.notifications, until: { $0.state == .connected || $0.state == .disconnected },
                                            timeout: options.timeout, what: "Connected or Disconnected")
        let last = first.last
        if kind.connects {
            if last?.state != .connected {
                problem = ("outcome", "expected Connected, got \(describe(first))")
            } else if kind == .normal {
                let status = try await client.connectStatus(dial.handle)
                if let path = status.dataPath {
                    var generator = SplitMix64(seed: options.seed ^ UInt64(cycle) << 20)
                    let payload = Array("soak \(cycle) ".utf8) + (0..<256).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                    do {
                        try await pushThrough(payload, write: path, read: path, timeout: .seconds(10))
                    } catch {
                        problem = ("data", "\(error)")
                    }
                } else {
                    problem = ("data", "Connected without a data path")
                }
            } else {
                let later = try await notifications(dial.notifications, until: { $0.state == .disconnected },
                                                    timeout: options.timeout, what: "the \(kind.rawValue)'s Disconnected")
                let error = later.last?.error?.code ?? 0
                if later.last?.state != .disconnected || error != kind.expectedError {
                    problem = ("outcome", "expected Disconnected(\(kind.expectedError)) after Connected, got \(describe(later))")
                }
            }
        } else {
            let error = last?.error?.code ?? 0
            if last?.state != .disconnected || error != kind.expectedError {
                problem = ("outcome", "expected Disconnected(\(kind.expectedError)), got \(describe(first))")
            }
        }
    } catch {
        problem = cycleProblem(error)
    }
    if let problem { record.failure = problem.0; record.detail = problem.1 }

    if let why = await hangUpAndWait(client, dial.handle, timeout: options.timeout) {
        return fail("hang-up", why)
    }
    let hook = await modem.transcript.waitOnHook(modem.name)
    if kind == .unplug {
        if hook != .unplugged && record.failure == nil { record.failure = "outcome"; record.detail = "the modem was not unplugged (\(hook?.rawValue ?? "?"))" }
        do { try await modem.start() } catch { return fail("fakemodem", "restart after unplug: \(error)") }
    } else if hook != .onHook {
        return fail("off-hook", "the modem is \(hook?.rawValue ?? "in an unknown state") after the hang-up")
    }
    record.seconds = milliseconds(start.duration(to: .now)) / 1000
    return record
}

/// The answer bank: line k (modem `line<k>`, number 55590kk) and its caller `caller<k>`.
func answerScenario(lines: Int) -> String {
    var text = "description: soak answer lines\nmodem-defaults: {ring-interval: 0.2, registers: {S7: 10, S12: 8}}\nmodems:\n"
    for line in 0..<lines { text += "  - {name: line\(line), number: \"\(5_559_000 + line)\"}\n" }
    for line in 0..<lines { text += "  - {name: caller\(line), number: \"\(5_559_500 + line)\"}\n" }
    return text
}

/// One answered call on line `line`.
func runAnswer(_ call: Int, line: Int, client: RASClient, book: String, transcript: TranscriptTail, options: Options) async -> AnswerRecord {
    var record = AnswerRecord(line: line, call: call, answered: false, seconds: 0)
    let start = ContinuousClock.now
    func finish(_ failure: String?, _ detail: String) -> AnswerRecord {
        var done = record
        if let failure, done.failure == nil { done.failure = failure; done.detail = detail }
        done.seconds = milliseconds(start.duration(to: .now)) / 1000
        return done
    }
    let entry = "Line\(line)"
    let callerNumber = "\(5_559_500 + line)"
    let dial: RasDialHandle
    do {
        dial = try await client.dial(.entry("Call\(line)", phonebookPath: book))
    } catch {
        return finish("dial-refused", "\(error)")
    }
    var incoming: RasConnectionHandle?
    var problem: (String, String)?
    do {
        let seen = try await notifications(dial.notifications, until: { $0.state == .connected || $0.state == .disconnected },
                                           timeout: options.timeout, what: "the caller's Connected")
        if seen.last?.state != .connected {
            problem = ("caller-outcome", "expected Connected, got \(describe(seen))")
        } else {
            let answered = try await withTimeout(10, "the incoming connection's Connected") {
                while true {
                    let connections = try await client.enumConnections()
                    if let found = connections.first(where: { $0.direction == .incoming && $0.entryName == entry }),
                       found.state == .connected {
                        return found
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            incoming = answered.handle
            record.answered = true
            if answered.callerID?.number != callerNumber {
                problem = ("caller-id", "caller ID \(answered.callerID.map { "\($0)" } ?? "none"), expected \(callerNumber)")
            } else {
                let callerPath = try await client.connectStatus(dial.handle).dataPath
                let answerPath = try await client.connectStatus(answered.handle).dataPath
                if let callerPath, let answerPath {
                    try await pushThrough(Array("call \(call) on line \(line), caller to answerer\n".utf8),
                                          write: callerPath, read: answerPath, timeout: .seconds(10))
                    try await pushThrough(Array("call \(call) on line \(line), answerer to caller\n".utf8),
                                          write: answerPath, read: callerPath, timeout: .seconds(10))
                } else {
                    problem = ("data", "no data path (caller \(callerPath ?? "nil"), answerer \(answerPath ?? "nil"))")
                }
            }
        }
    } catch {
        problem = cycleProblem(error)
    }
    if let problem { record.failure = problem.0; record.detail = problem.1 }

    // Alternately the caller and the answerer hang up first.
    let order = call % 2 == 0 ? [dial.handle] + (incoming.map { [$0] } ?? []) : (incoming.map { [$0] } ?? []) + [dial.handle]
    for handle in order {
        if let why = await hangUpAndWait(client, handle, timeout: options.timeout) { return finish("hang-up", why) }
    }
    if incoming == nil {
        // An answer that never reached Connected may still be listed; it must go too.
        if let stray = try? await client.enumConnections().first(where: { $0.direction == .incoming && $0.entryName == entry }),
           let why = await hangUpAndWait(client, stray.handle, timeout: options.timeout) {
            return finish("hang-up", "incoming: \(why)")
        }
    }
    for modem in ["caller\(line)", "line\(line)"] {
        let hook = await transcript.waitOnHook(modem)
        if hook != .onHook { return finish("off-hook", "\(modem) is \(hook?.rawValue ?? "in an unknown state") after the hang-up") }
    }
    do {
        try await withTimeout(options.timeout, "the line idle again") {
            while true {
                if try await client.enumListeners().first(where: { $0.entryName == entry })?.state == "idle" { return }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    } catch {
        return finish("line-not-idle", "\(error)")
    }
    return finish(nil, "")
}

func sampleLine(_ label: String, _ sample: ProcessSample) -> String {
    String(format: "%@: %d fds, RSS %.1f MiB (peak %.1f MiB), %d threads, CPU %.2f s",
           label, sample.descriptors, sample.rssMiB, Double(sample.peakRSSKiB) / 1024, sample.threads, Double(sample.cpuTicks) / 100)
}

func main() async throws {
    let options = Options.parseOrExit()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("soak-bench-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: folder + "/lock", withIntermediateDirectories: true)
    emit("soak-bench: \(options.cycles) cycles on \(options.modems) modems, \(options.answers) answered calls on \(options.answerLines) lines, seed \(options.seed)")
    emit("folder: \(folder)")

    var faults: [ModemFault] = (0..<options.modems).map { ModemFault.allCases[$0 % ModemFault.allCases.count] }
    var shuffler = SplitMix64(seed: options.seed)
    faults.shuffle(using: &shuffler)
    var modems: [SoakModem] = []
    for index in 0..<options.modems {
        modems.append(try SoakModem(index: index, fault: faults[index], folder: folder, fakemodem: options.fakemodem, seed: options.seed))
    }
    emit("modem faults: " + modems.map { "\($0.index)=\($0.fault.rawValue)" }.joined(separator: " "))
    for modem in modems { try await modem.start() }

    let lines = options.answers > 0 ? options.answerLines : 0
    var answerBank: Child?
    let answerTranscript = TranscriptTail(path: folder + "/answer.transcript")
    if lines > 0 {
        try Data(answerScenario(lines: lines).utf8).write(to: URL(fileURLWithPath: folder + "/answer.yaml"))
        let bank = try Child(options.fakemodem, ["--link", folder + "/answer", "--scenario", folder + "/answer.yaml",
                                                 "--transcript", folder + "/answer.transcript"], name: "fakemodem-answer", folder: folder)
        answerBank = bank
        try await bank.waitForReady(count: 2 * lines)
    }
    var book = ""
    for modem in modems {
        book += "[S\(modem.index)]\nPort=\(modem.link)\nPhoneNumber=\(CallKind.normal.number)\nDialTimeoutSeconds=3\n\n"
    }
    for line in 0..<lines {
        book += "[Line\(line)]\nAnswer=1\nPort=\(folder)/answer-\(line)\n\n"
        book += "[Call\(line)]\nPort=\(folder)/answer-\(lines + line)\nPhoneNumber=\(5_559_000 + line)\nDialTimeoutSeconds=15\n\n"
    }
    let bookPath = folder + "/soak.pbk"
    try Data(book.utf8).write(to: URL(fileURLWithPath: bookPath))

    let socket = folder + "/rasmand.sock"
    let daemonOptions = ["--dtr-drop-ms", "50", "--hangup-confirm-ms", "1000", "--abort-dial-ms", "1000",
                         "--carrier-poll-ms", "50", "--command-timeout-ms", "3000", "--shutdown-timeout", "30"]
    emit("rasmand options: " + daemonOptions.joined(separator: " "))
    let daemon = try Child(options.rasmand, ["--socket", socket, "--lock-dir", folder + "/lock", "--no-discovery",
                                             "--log-level", ProcessInfo.processInfo.environment["BENCH_LOG_LEVEL"] ?? "warning"]
                           + daemonOptions, name: "rasmand", folder: folder)
    try await daemon.waitForReady(count: 1)
    let pid = daemon.pid
    let atStart = ProcessSample(pid: pid)

    if lines > 0 {
        let client = try await RASClient.connect(socketPath: socket)
        for line in 0..<lines { _ = try await client.listen(RasListenParameters(entryName: "Line\(line)", phonebookPath: bookPath)) }
        try await withTimeout(30, "the lines listening") {
            while try await client.enumListeners().filter({ $0.state == "idle" }).count < lines { try await Task.sleep(for: .milliseconds(20)) }
        }
        await client.close()
    }

    // Two phases: a warm-up (some cycles and a few calls per line), then a quiet moment to
    // sample the daemon with the lines listening and no connection; then the rest. The same
    // sample at the end (lines still listening, no connection) is the leak comparison.
    let results = Results(total: options.cycles)
    let warmUpCycles = min(400, max(1, options.cycles / 20))
    let perLine = (0..<lines).map { options.answers / lines + ($0 < options.answers % lines ? 1 : 0) }
    let warmUpCalls = perLine.map { min(5, $0) }
    let runStart = ContinuousClock.now
    var warm: ProcessSample?
    for phase in 0..<2 {
        results.limit = phase == 0 ? warmUpCycles : options.cycles
        try await withThrowingTaskGroup(of: Void.self) { group in
            for modem in modems {
                group.addTask {
                    let client = try await RASClient.connect(socketPath: socket)
                    while let cycle = results.takeCycle() {
                        let record = await runCycle(cycle, modem: modem, client: client, book: bookPath, options: options)
                        results.add(record)
                        if let failure = record.failure, results.counts.cycleFailures <= 20 {
                            progress("cycle \(cycle) (modem \(modem.index) \(modem.fault.rawValue), \(record.kind.rawValue)) FAILED \(failure): \(record.detail)")
                        }
                        if results.counts.cycles % 500 == 0 {
                            let counts = results.counts
                            progress(String(format: "%d cycles (%d failed), %d answers (%d failed), %.0f s; ", counts.cycles, counts.cycleFailures,
                                            counts.answers, counts.answerFailures, milliseconds(runStart.duration(to: .now)) / 1000)
                                     + sampleLine("rasmand", ProcessSample(pid: pid)))
                        }
                    }
                    await client.close()
                }
            }
            for line in 0..<lines {
                let calls = phase == 0 ? 0..<warmUpCalls[line] : warmUpCalls[line]..<perLine[line]
                group.addTask {
                    let client = try await RASClient.connect(socketPath: socket)
                    for call in calls {
                        let record = await runAnswer(call, line: line, client: client, book: bookPath, transcript: answerTranscript, options: options)
                        results.add(record)
                        if let failure = record.failure, results.counts.answerFailures <= 20 {
                            progress("answer \(call) on line \(line) FAILED \(failure): \(record.detail)")
                        }
                    }
                    await client.close()
                }
            }
            try await group.waitForAll()
        }
        if phase == 0 {
            try await Task.sleep(for: .seconds(2))
            warm = ProcessSample(pid: pid)
            progress("warm-up done: " + sampleLine("rasmand", warm ?? ProcessSample(pid: pid)))
        }
    }
    let totalSeconds = milliseconds(runStart.duration(to: .now)) / 1000

    // The end state: nothing listed, lines stopped, the daemon's counters after a settle.
    // (Samples are taken with no client connected, as after the warm-up.)
    let lister = try await RASClient.connect(socketPath: socket)
    let leftConnections = try await lister.enumConnections()
    await lister.close()
    try await Task.sleep(for: .seconds(2))
    let atEndListening = ProcessSample(pid: pid)
    let client = try await RASClient.connect(socketPath: socket)
    for line in 0..<lines { _ = try? await client.stopListening(entryName: "Line\(line)") }
    try? await withTimeout(30, "the lines stopped") {
        while try await !client.enumListeners().isEmpty { try await Task.sleep(for: .milliseconds(20)) }
    }
    await client.close()
    try await Task.sleep(for: .seconds(2))
    let atEnd = ProcessSample(pid: pid)
    let locks = ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/lock")) ?? []).filter { $0.hasPrefix("LCK..") }
    let dataLinks = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/lines")) ?? []

    // Report.
    let cycles = results.cycleRecords
    let answers = results.answerRecords
    emit("")
    emit(String(format: "total time: %.1f s", totalSeconds))
    emit("cycles: \(cycles.count), failed: \(cycles.filter { $0.failure != nil }.count)")
    emit("| cycle kind | cycles | failed | p50 | p90 | p99 | slowest |")
    emit("|---|---|---|---|---|---|---|")
    for kind in CallKind.allCases {
        let ofKind = cycles.filter { $0.kind == kind }
        let times = ofKind.map(\.seconds).sorted()
        emit(String(format: "| %@ (→ %@) | %d | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms |", kind.rawValue,
                    kind.expectedError == 0 ? "Connected + echo" : (kind.connects ? "Connected, then \(kind.expectedError)" : "\(kind.expectedError)"),
                    ofKind.count, ofKind.filter { $0.failure != nil }.count,
                    percentile(times, 0.5) * 1000, percentile(times, 0.9) * 1000, percentile(times, 0.99) * 1000, (times.last ?? .nan) * 1000))
    }
    emit("| modem fault | cycles | failed | p50 | p90 | p99 | slowest |")
    emit("|---|---|---|---|---|---|---|")
    for fault in ModemFault.allCases {
        let ofFault = cycles.filter { $0.fault == fault }
        let times = ofFault.map(\.seconds).sorted()
        emit(String(format: "| %@ | %d | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms |", fault.rawValue, ofFault.count,
                    ofFault.filter { $0.failure != nil }.count,
                    percentile(times, 0.5) * 1000, percentile(times, 0.9) * 1000, percentile(times, 0.99) * 1000, (times.last ?? .nan) * 1000))
    }
    let allTimes = cycles.map(\.seconds).sorted()
    emit(String(format: "all cycles: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, p99.9 %.0f ms", percentile(allTimes, 0.5) * 1000,
                percentile(allTimes, 0.9) * 1000, percentile(allTimes, 0.99) * 1000, percentile(allTimes, 0.999) * 1000))
    if let slowest = cycles.max(by: { $0.seconds < $1.seconds }) {
        emit(String(format: "slowest cycle: #%d, %.0f ms, modem %d (%@), %@%@", slowest.cycle, slowest.seconds * 1000, slowest.modem,
                    slowest.fault.rawValue, slowest.kind.rawValue, slowest.failure.map { ", failed: \($0)" } ?? ""))
    }
    var byFailure: [String: Int] = [:]
    for record in cycles { if let failure = record.failure { byFailure[failure, default: 0] += 1 } }
    emit("cycle failures by kind: " + (byFailure.isEmpty ? "none" : byFailure.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
    for record in cycles.filter({ $0.failure != nil }).prefix(10) {
        emit("  cycle \(record.cycle) modem \(record.modem) (\(record.fault.rawValue)) \(record.kind.rawValue): \(record.failure ?? "") — \(record.detail)")
    }
    emit("fake modem restarts after unplug: \(modems.map(\.restarts).reduce(0, +))")
    if lines > 0 {
        let answerTimes = answers.map(\.seconds).sorted()
        emit("answered calls: \(answers.filter(\.answered).count) of \(answers.count) attempted, failed: \(answers.filter { $0.failure != nil }.count)")
        emit(String(format: "answered call (dial → both Connected → data both ways → both gone → line idle): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, slowest %.0f ms",
                    percentile(answerTimes, 0.5) * 1000, percentile(answerTimes, 0.9) * 1000, percentile(answerTimes, 0.99) * 1000,
                    (answerTimes.last ?? .nan) * 1000))
        var answerFailures: [String: Int] = [:]
        for record in answers { if let failure = record.failure { answerFailures[failure, default: 0] += 1 } }
        emit("answer failures by kind: " + (answerFailures.isEmpty ? "none" : answerFailures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        for record in answers.filter({ $0.failure != nil }).prefix(10) {
            emit("  answer \(record.call) on line \(record.line): \(record.failure ?? "") — \(record.detail)")
        }
    }
    emit(sampleLine("rasmand at start (before any dial)", atStart))
    if let warm { emit(sampleLine("rasmand after the warm-up (\(warmUpCycles) cycles, \(warmUpCalls.reduce(0, +)) calls; lines listening, no connection, +2 s)", warm)) }
    emit(sampleLine("rasmand at the end (lines listening, no connection, +2 s)", atEndListening))
    emit(sampleLine("rasmand at the end (lines stopped, +2 s)", atEnd))
    emit("left at the end: \(leftConnections.count) connections, \(locks.count) lock files, \(dataLinks.count) data-path links")

    await daemon.stop(grace: .seconds(30))
    await answerBank?.stop()
    for modem in modems { await modem.stop() }
    if !options.keep && byFailure.isEmpty { try? FileManager.default.removeItem(atPath: folder) } else { emit("kept: \(folder)") }
}


do {
    try await main()
} catch {
    emit("soak-bench failed: \(error)")
    exit(1)
}
