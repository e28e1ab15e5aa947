// dial-bench --side-by-side: chat, wvdial and rasdial (through a running rasmand) dial the
// same fake modem in alternating rounds; each is timed from its process start to the moment
// it reports CONNECT. Benchmarks/dial-side-by-side.sh starts the fake modem and rasmand,
// writes the three tools' configurations and runs this.
//
// What ends the timed part, per tool:
//   chat     exits with status 0 (its script's last expect is CONNECT);
//   wvdial   prints a line starting with CONNECT (it echoes the modem's result on stderr);
//            it is then stopped with SIGTERM — wvdial would go on to wait for a login prompt
//            and start pppd, neither of which the others do;
//   rasdial  exits with status 0 (it does once the connection is Connected); it is then hung
//            up with `rasdial ENTRY --disconnect`, and the daemon's list is polled until the
//            connection is gone.
// Between runs, the same for every tool and untimed: the harness opens the modem's port,
// sets raw 115200 8N1 with CLOCAL and HUPCL (so each tool starts on the same line
// settings), drops DTR (speed B0) if the fake modem's transcript says it is still off-hook
// (chat leaves the call up, and neither wvdial nor its SIGTERM hangs up a pty), waits for
// the transcript's on-hook, closes the port and lets the modem settle.
import SystemIO
import Foundation
import Glibc

struct SideBySideOptions {
    var runs = 10
    var modem = ""
    var transcript = ""
    var chat = "/usr/sbin/chat"
    var chatScript = ""
    var wvdial = "/usr/bin/wvdial"
    var wvdialConfig = ""
    var wvdialSection = "Bench"
    var rasdial = ""
    var socket = ""
    var phonebook = ""
    var entry = "Bench"
    /// Quiet time for the modem after each reset, before the next tool starts.
    var settle = Duration.milliseconds(300)

    var missing: [String] {
        [("--modem", modem), ("--transcript", transcript), ("--chat-script", chatScript),
         ("--wvdial-config", wvdialConfig), ("--rasdial", rasdial), ("--socket", socket),
         ("--phonebook", phonebook)].filter { $0.1.isEmpty }.map(\.0)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Peer: String, CaseIterable {
    case chat, wvdial, rasdial

    var label: String {
        switch self {
        case .chat: "chat (exit 0 after CONNECT)"
        case .wvdial: "wvdial (CONNECT on stderr)"
        case .rasdial: "rasdial via rasmand (exit 0, Connected)"
        }
    }
}

// MARK: The fake modem's transcript

/// Follows the transcript file the fake modem appends to: hook state, commands received,
/// first byte and CONNECT times.
final class TranscriptFollower {
    struct Line {
        var date: Date?
        var direction: String
        var payload: String
    }

    let path: String
    private var offset: UInt64 = 0
    private var partial = ""
    private(set) var offHook = false
    /// Whether the modem has seen a program open its port (and not yet close it).
    private(set) var slaveOpen = false
    /// Lines since the last ``mark()``.
    private(set) var sinceMark: [Line] = []
    private let dates = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    init(path: String) {
        self.path = path
        update()
    }

    func mark() {
        update()
        sinceMark = []
    }

    func update() {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return }
        offset += UInt64(data.count)
        partial += String(decoding: data, as: UTF8.self)
        var lines = partial.split(separator: "\n", omittingEmptySubsequences: false)
        partial = String(lines.removeLast())
        for text in lines {
            let fields = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4 else { continue }
            let line = Line(date: try? dates.parse(String(fields[0])), direction: String(fields[2]), payload: String(fields[3]))
            if line.direction == "--" {
                if line.payload == "off-hook" { offHook = true }
                if line.payload.hasPrefix("on-hook") { offHook = false }
                if line.payload == "slave-open" { slaveOpen = true }
                if line.payload.hasPrefix("slave-closed") { slaveOpen = false }
            }
            sinceMark.append(line)
        }
    }

    /// The command lines the modem executed since the mark.
    var commands: [String] {
        sinceMark.filter { $0.direction == "--" && $0.payload.hasPrefix("command ") }.map { String($0.payload.dropFirst(8)) }
    }

    /// When the first byte from the computer arrived since the mark.
    var firstByte: Date? { sinceMark.first { $0.direction == "<<" }?.date }

    /// When the modem reported CONNECT since the mark.
    var connected: Date? { sinceMark.first { $0.direction == "--" && $0.payload.hasPrefix("connect ") }?.date }

    /// Waits until `condition` holds for what the transcript shows; false after `timeout`.
    func wait(timeout: Duration, until condition: (TranscriptFollower) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            update()
            if condition(self) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
    }
}

// MARK: Processes

/// A program started with its stdout and stderr on one pipe (or stdin and stdout on a
/// terminal), run as a `ChildProcess`: reaped, and killed if still running when dropped.
final class Program {
    let name: String
    private let child: ChildProcess
    private(set) var text = ""
    private(set) var status: Int32?

    /// Starts `path` with `arguments`; stdin and stdout from `terminal` when given (chat
    /// talks to the modem on them), else /dev/null and the pipe; stderr to the pipe.
    init(_ path: String, _ arguments: [String], terminal: Int32? = nil) throws {
        name = (path as NSString).lastPathComponent
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        do {
            child = try ChildProcess(executable: path, arguments: arguments, environment: environment, terminal: terminal)
        } catch {
            throw BenchFailure("cannot start \(path): \(error)")
        }
    }

    /// Waits until it exits (returns its status: exit code, or 128 + signal), or until
    /// `until` says stop on the output so far (returns nil), or the deadline (returns nil).
    @discardableResult
    func wait(deadline: ContinuousClock.Instant, until: ((String) -> Bool)? = nil) async -> Int32? {
        if let until {
            while status == nil {
                if until(text) { return nil }
                guard let bytes = try? await child.readOutput(deadline: deadline) else { break }
                if bytes.isEmpty { return nil }
                text += String(decoding: bytes, as: UTF8.self)
            }
        }
        if status == nil, let end = await child.waitForExit(deadline: deadline) { status = Self.code(end) }
        await drain()
        return status
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        guard status == nil else { return }
        if let end = await child.stop(grace: grace) { status = Self.code(end) }
        await drain()
    }

    private static func code(_ end: ChildProcess.Termination) -> Int32 {
        switch end {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
    }

    private func drain() async {
        while let bytes = try? await child.readOutput(deadline: .now), !bytes.isEmpty {
            text += String(decoding: bytes, as: UTF8.self)
        }
    }
}

// MARK: The runs

struct PeerRun {
    /// Process start → the tool reports CONNECT.
    var elapsed: Duration
    /// Process start → the modem's first byte from it (from the transcript's wall-clock times).
    var toFirstByte: Double?
    /// The modem's first byte → its CONNECT.
    var atModem: Double?
    /// The modem's CONNECT → the tool reports it.
    var toReport: Double?
    var commands: [String]
}

struct SideBySide {
    let options: SideBySideOptions
    let transcript: TranscriptFollower

    init(options: SideBySideOptions) {
        self.options = options
        transcript = TranscriptFollower(path: options.transcript)
    }

    /// Puts the modem on-hook with the line in the same state for every tool (see the top).
    /// Each step waits for the fake modem to have seen the last: it samples the port's
    /// open state and speed every few ticks, and takes the speed a program opens with as
    /// the baseline, so a B0 set before it noticed the open would not count as a DTR drop.
    /// - Returns: whether the modem was still off-hook (and had to be hung up).
    @discardableResult
    func reset() throws -> Bool {
        guard transcript.wait(timeout: .seconds(3), until: { !$0.slaveOpen }) else {
            throw BenchFailure("the fake modem still sees its port open 3 s after the tool ended")
        }
        let fd = open(options.modem, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw BenchFailure("open \(options.modem): \(String(cString: strerror(errno)))") }
        var line = termios()
        guard tcgetattr(fd, &line) == 0 else {
            close(fd)
            throw BenchFailure("tcgetattr: \(String(cString: strerror(errno)))")
        }
        cfmakeraw(&line)
        line.c_cflag &= ~tcflag_t(CRTSCTS)
        line.c_cflag |= tcflag_t(CLOCAL | HUPCL | CREAD)
        cfsetispeed(&line, speed_t(B115200))
        cfsetospeed(&line, speed_t(B115200))
        guard tcsetattr(fd, TCSANOW, &line) == 0 else {
            close(fd)
            throw BenchFailure("tcsetattr: \(String(cString: strerror(errno)))")
        }
        guard transcript.wait(timeout: .seconds(3), until: { $0.slaveOpen }) else {
            close(fd)
            throw BenchFailure("the fake modem did not see its port opened")
        }
        let wasOffHook = transcript.offHook
        if wasOffHook {
            var dropped = line
            cfsetispeed(&dropped, speed_t(B0))
            cfsetospeed(&dropped, speed_t(B0))
            _ = tcsetattr(fd, TCSANOW, &dropped)
            let onHook = transcript.wait(timeout: .seconds(3), until: { !$0.offHook })
            _ = tcsetattr(fd, TCSANOW, &line)
            guard onHook else {
                close(fd)
                throw BenchFailure("the fake modem stayed off-hook after a 3 s DTR drop")
            }
        }
        _ = tcflush(fd, TCIOFLUSH)
        close(fd)
        guard transcript.wait(timeout: .seconds(3), until: { !$0.slaveOpen }) else {
            throw BenchFailure("the fake modem did not see its port closed")
        }
        return wasOffHook
    }

    func settle() {
        usleep(useconds_t(milliseconds(options.settle) * 1000))
        transcript.mark()
    }

    func run(_ peer: Peer) async throws -> PeerRun {
        let startDate = Date()
        let start = ContinuousClock.now
        let deadline = start + .seconds(20)
        let end: ContinuousClock.Instant
        var hangsUpRasdial = false
        switch peer {
        case .chat:
            let terminal = open(options.modem, O_RDWR | O_NOCTTY | O_CLOEXEC)
            guard terminal >= 0 else { throw BenchFailure("open \(options.modem): \(String(cString: strerror(errno)))") }
            let chat: Program
            do {
                defer { close(terminal) }
                chat = try Program(options.chat, ["-f", options.chatScript], terminal: terminal)
            }
            let status = await chat.wait(deadline: deadline)
            end = .now
            guard status == 0 else {
                await chat.stop()
                throw BenchFailure("chat: \(status.map { "status \($0)" } ?? "timed out") \(chat.text)")
            }
        case .wvdial:
            let wvdial = try Program(options.wvdial, ["--config", options.wvdialConfig, options.wvdialSection])
            let connected: (String) -> Bool = { text in
                text.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("CONNECT") }
            }
            let status = await wvdial.wait(deadline: deadline, until: connected)
            end = .now
            let reported = connected(wvdial.text)
            await wvdial.stop()
            guard reported else {
                throw BenchFailure("wvdial: no CONNECT (\(status.map { "status \($0)" } ?? "timed out")): \(wvdial.text)")
            }
        case .rasdial:
            let rasdial = try Program(options.rasdial, [options.entry, "--phonebook", options.phonebook, "--socket", options.socket])
            let status = await rasdial.wait(deadline: deadline)
            end = .now
            hangsUpRasdial = true
            guard status == 0 else {
                await rasdial.stop()
                await hangUpRasdial()
                throw BenchFailure("rasdial: \(status.map { "status \($0)" } ?? "timed out"): \(rasdial.text)")
            }
        }
        transcript.update()
        let first = transcript.firstByte.map { $0.timeIntervalSince(startDate) * 1000 }
        let atModem = both(transcript.firstByte, transcript.connected).map { $1.timeIntervalSince($0) * 1000 }
        let toReport = transcript.connected.map { (startDate.timeIntervalSince($0)) * 1000 + milliseconds(end - start) }
        if hangsUpRasdial { await hangUpRasdial() }
        return PeerRun(
            elapsed: end - start, toFirstByte: first, atModem: atModem, toReport: toReport, commands: transcript.commands)
    }

    /// `rasdial ENTRY --disconnect`, then the daemon's list until the connection is gone.
    private func hangUpRasdial() async {
        if let hangUp = try? Program(options.rasdial, [options.entry, "--disconnect", "--socket", options.socket]) {
            if await hangUp.wait(deadline: .now + .seconds(60)) != 0 {
                print("warning: rasdial --disconnect: \(hangUp.status.map { "status \($0)" } ?? "timed out"): \(hangUp.text)")
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard let list = try? Program(options.rasdial, ["--json", "--socket", options.socket]) else { return }
            if await list.wait(deadline: deadline) == 0, !list.text.contains("\"handle\"") { return }
            usleep(20_000)
        }
        print("warning: rasmand still lists a connection 10 s after the hang-up")
    }
}

/// Both dates, when both are known.
func both(_ first: Date?, _ second: Date?) -> (Date, Date)? {
    guard let first, let second else { return nil }
    return (first, second)
}

/// The nearest-rank percentile of sorted values: the smallest value with at least
/// `fraction` of them at or below it (p90 of 10 values is the 9th).
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
}

/// The median (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double? {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return nil }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func runSideBySide(_ options: SideBySideOptions) async throws {
    let bench = SideBySide(options: options)
    var runs: [Peer: [PeerRun]] = [:]
    var sequences: [Peer: [String]] = [:]
    print("dial side by side: \(options.runs) alternating round\(options.runs == 1 ? "" : "s") of chat, wvdial and rasdial (order rotated each round; 1 warm-up round not counted)")
    print("one fakemodem on one pty, every number: CONNECT after 0.20 s; modem reset to on-hook and line re-set between runs (untimed)")
    fflush(nil)
    var leftOffHook: [Peer: Int] = [:]
    try bench.reset()
    bench.settle()
    for round in 0...options.runs {
        let order = Peer.allCases.indices.map { Peer.allCases[($0 + round) % Peer.allCases.count] }
        var progress: [String] = []
        for peer in order {
            let run = try await bench.run(peer)
            if try bench.reset(), round > 0 { leftOffHook[peer, default: 0] += 1 }
            bench.settle()
            if let known = sequences[peer], known != run.commands {
                print("warning: \(peer.rawValue) sent \(run.commands) this time, \(known) before")
            }
            sequences[peer] = run.commands
            if round > 0 { runs[peer, default: []].append(run) }
            progress.append("\(peer.rawValue) " + String(format: "%.1f ms", milliseconds(run.elapsed)))
        }
        print("  \(round == 0 ? "warm-up" : "round \(round)/\(options.runs)"): \(progress.joined(separator: ", "))")
        fflush(nil)
    }
    print("")
    print("command lines the fake modem executed, per tool (from its transcript):")
    for peer in Peer.allCases {
        print("  \(peer.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \((sequences[peer] ?? []).joined(separator: " | "))")
    }
    // Beyond the configured lines (ATZ, the init string, the dial), swift-ras asks the modem
    // itself: AT before ATZ (is it awake, or left online?), AT after it (ready?), ATS12?
    // (its guard time for +++). Those are part of the measured time, not a different script.
    let ownQuestions: Set<String> = ["AT", "ATS12?"]
    print("  (rasdial's bare ATs and ATS12? are its own questions: awake?, ready after ATZ?, guard time)")
    let configured = Peer.allCases.map { peer in
        (sequences[peer] ?? []).filter { peer != .rasdial || !ownQuestions.contains($0) }
    }
    if Set(configured).count != 1 {
        print("warning: the tools did not send the same command lines")
    }
    print("modem still off-hook when the tool was done (hung up by the harness, untimed): "
        + Peer.allCases.map { "\($0.rawValue) \(leftOffHook[$0] ?? 0)/\(options.runs)" }.joined(separator: ", "))
    print("")
    let chatMedian = median((runs[.chat] ?? []).map { milliseconds($0.elapsed) })
    func column(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
    print("process start → CONNECT reported (ms)    " + ["median", "p90", "min", "max", "n", "÷ chat"].map { column($0, 8) }.joined())
    for peer in Peer.allCases {
        let values = (runs[peer] ?? []).map { milliseconds($0.elapsed) }.sorted()
        guard let middle = median(values) else { continue }
        let ratio = chatMedian.map { String(format: "%.2f", middle / $0) } ?? "-"
        let cells = [String(format: "%.1f", middle), String(format: "%.1f", percentile(values, 0.9)),
                     String(format: "%.1f", values[0]), String(format: "%.1f", values[values.count - 1]),
                     "\(values.count)", ratio]
        print(peer.label.padding(toLength: 40, withPad: " ", startingAt: 0) + cells.map { column($0, 8) }.joined())
    }
    print("")
    print("where the time goes (medians, ms; the modem's side from its transcript, 1 ms resolution):")
    print("                                        " + ["start → modem hears it", "1st byte → CONNECT", "CONNECT → reported"].map { column($0, 24) }.joined())
    for peer in Peer.allCases {
        let peerRuns = runs[peer] ?? []
        let cells = [
            median(peerRuns.compactMap(\.toFirstByte)), median(peerRuns.compactMap(\.atModem)),
            median(peerRuns.compactMap(\.toReport)),
        ].map { $0.map { String(format: "%.0f", $0) } ?? "-" }
        print(peer.rawValue.padding(toLength: 40, withPad: " ", startingAt: 0) + cells.map { column($0, 24) }.joined())
    }
}
