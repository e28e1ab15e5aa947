import FakeModem
import Foundation
import RAS
import RASService
import Serial
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every fault in every phase of a connection's life, through a real `rasmand` process and a
/// real client, against a fake modem whose faults are switched on at the phase (issue 15).
/// Each cell asserts the RAS outcome, that the modem ended on-hook (from its transcript),
/// that a listening line listens again, and that the daemon is left with no more
/// descriptors, ptys, sockets, children, lock files, data-path links or hook folders than
/// before. The run prints the matrix; `SWIFT_RAS_FAULT_MATRIX` names a file to write it to.
@Suite("Fault matrix", .serialized)
struct FaultMatrixTests {
    /// `SWIFT_RAS_FAULT_MATRIX_ONLY=silent,unplug × dialing` runs only the cells whose
    /// "fault × phase" contains one of the comma-separated words (while working on one).
    static func selected(_ fault: MatrixFault, _ phase: MatrixPhase) -> Bool {
        guard let only = ProcessInfo.processInfo.environment["SWIFT_RAS_FAULT_MATRIX_ONLY"], !only.isEmpty else { return true }
        let name = "\(fault.rawValue) × \(phase.rawValue)"
        return only.split(separator: ",").contains { name.contains($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test(.timeLimit(.minutes(10)))
    func everyFaultInEveryPhase() async throws {
        var matrix = FaultMatrix()
        for fault in MatrixFault.allCases {
            for phase in MatrixPhase.allCases {
                let started = ContinuousClock.now
                let cell: CellResult
                if !Self.selected(fault, phase) { continue }
                if let reason = fault.notApplicable(in: phase) {
                    cell = .notApplicable(reason)
                } else {
                    cell = await FaultLab.run(fault, phase)
                }
                matrix.record(fault, phase, cell)
                let elapsed = started.duration(to: .now)
                print("fault matrix: \(fault.rawValue) × \(phase.rawValue): \(cell.summary) (\(elapsed.milliseconds) ms)\(cell.problems.isEmpty ? "" : " — " + cell.problems.joined(separator: "; "))")
                #expect(cell.problems.isEmpty, "\(fault.rawValue) × \(phase.rawValue): \(cell.problems.joined(separator: "; "))")
            }
        }
        let table = matrix.table
        print(table)
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SWIFT_RAS_FAULT_MATRIX"], !path.isEmpty, environment["SWIFT_RAS_FAULT_MATRIX_ONLY"] == nil {
            try? Data(table.utf8).write(to: URL(fileURLWithPath: path))
        }
    }
}

// MARK: - The matrix

/// The phases a fault can strike in.
enum MatrixPhase: String, CaseIterable, Sendable {
    case initializing = "init"
    case dialing
    case connected = "connected + data"
    case ppp = "PPP negotiating"
    case hangingUp = "hanging up"
    case listening
    case answering
}

/// The faults.
enum MatrixFault: String, CaseIterable, Sendable {
    case noise = "line noise"
    case silent = "silent modem"
    case lateResults = "late results"
    case duplicateResults = "duplicated results"
    case ignoresDTR = "ignores DTR"
    case ignoresATH = "ignores ATH"
    case leftOnline = "left online by another program"
    case carrierDrop = "carrier drop"
    case unplug = "unplug (pty closed)"
    case clientKilled = "dialing client killed"
    case dataProgramKilled = "data-path program killed"
    case daemonKilled = "rasmand SIGKILL + restart"
    case fullDisk = "full disk (log, transcript)"
    case foreignLock = "lock held by a live process"
    case staleLock = "stale lock"
    case serverVanishes = "terminal server vanishes"

    /// Why the fault cannot strike in `phase`, or `nil` when the cell is run.
    func notApplicable(in phase: MatrixPhase) -> String? {
        switch (self, phase) {
        case (.leftOnline, .dialing), (.leftOnline, .connected), (.leftOnline, .ppp), (.leftOnline, .hangingUp),
             (.leftOnline, .answering):
            return "the port is held exclusively (TIOCEXCL + lock): no other program can leave it online then"
        case (.foreignLock, .dialing), (.foreignLock, .connected), (.foreignLock, .ppp), (.foreignLock, .hangingUp),
             (.foreignLock, .answering), (.staleLock, .dialing), (.staleLock, .connected), (.staleLock, .ppp),
             (.staleLock, .hangingUp), (.staleLock, .answering):
            return "the lock is taken once, when the port is opened (init, or the line's start)"
        case (.dataProgramKilled, .initializing), (.dataProgramKilled, .dialing), (.dataProgramKilled, .hangingUp),
             (.dataProgramKilled, .listening):
            return "there is no data path before CONNECT or once the hang-up has closed it"
        case (.ignoresDTR, .initializing), (.ignoresATH, .initializing):
            return "nothing is hung up during init"
        case (.carrierDrop, .initializing), (.carrierDrop, .listening):
            return "there is no carrier before a call"
        case (.clientKilled, .ppp):
            return "same as connected: the client is not involved in PPP"
        default:
            return nil
        }
    }
}

/// What one cell found.
struct CellResult: Sendable {
    /// The RAS outcome, e.g. `Connected`, `676`, `idle`.
    var outcome: String
    /// What went wrong (empty: the cell passed).
    var problems: [String]
    /// Why the cell does not apply, if it does not.
    var reason: String?

    static func notApplicable(_ reason: String) -> CellResult { CellResult(outcome: "n/a", problems: [], reason: reason) }

    var summary: String {
        if let reason { return "n/a (\(reason))" }
        return (problems.isEmpty ? "ok " : "FAIL ") + outcome
    }
}

struct FaultMatrix {
    private var cells: [String: CellResult] = [:]

    mutating func record(_ fault: MatrixFault, _ phase: MatrixPhase, _ cell: CellResult) {
        cells[fault.rawValue + "|" + phase.rawValue] = cell
    }

    /// A Markdown table: one row per fault, one column per phase.
    var table: String {
        var lines = ["| fault | " + MatrixPhase.allCases.map(\.rawValue).joined(separator: " | ") + " |"]
        lines.append("|---|" + MatrixPhase.allCases.map { _ in "---" }.joined(separator: "|") + "|")
        for fault in MatrixFault.allCases {
            let row = MatrixPhase.allCases.map { phase -> String in
                guard let cell = cells[fault.rawValue + "|" + phase.rawValue] else { return "?" }
                if cell.reason != nil { return "—" }
                return (cell.problems.isEmpty ? "✓ " : "✗ ") + cell.outcome
            }
            lines.append("| \(fault.rawValue) | " + row.joined(separator: " | ") + " |")
        }
        let run = cells.values.filter { $0.reason == nil }
        lines.append("")
        lines.append("\(run.count) cells run, \(run.filter { $0.problems.isEmpty }.count) passed; "
                     + "\(cells.values.count - run.count) do not apply (—). Outcome: the RAS state or error before the hang-up; "
                     + "every run cell also checked on-hook, listener back to idle, and no leaked descriptor, pty, socket, child, lock or link.")
        return lines.joined(separator: "\n")
    }
}

// MARK: - What the daemon holds

/// The daemon's resources, as counted from outside.
struct DaemonResources: CustomStringConvertible {
    /// What each descriptor is, sorted: `pty`, `socket`, `pipe`, `anon_inode:[eventfd]`, a path
    /// (but for the runtime's timer descriptors).
    var descriptors: [String] = []
    /// The `timerfd`s: libdispatch makes one per clock (at most 3) when a timer on it is
    /// first armed — in the daemon, at its first connection — and keeps it.
    var runtimeTimers = 0
    var children: [Int32] = []
    var lockFiles: [String] = []
    var lineLinks: [String] = []
    var hookFolders: [String] = []

    var ptys: Int { descriptors.filter { $0 == "pty" }.count }

    /// The same resources, but for timers the runtime made on first use.
    func holdsTheSame(as before: DaemonResources) -> Bool {
        descriptors == before.descriptors && children == before.children && lockFiles == before.lockFiles
            && lineLinks == before.lineLinks && hookFolders == before.hookFolders
            && runtimeTimers >= before.runtimeTimers && runtimeTimers <= 3
    }

    static func of(pid: Int32, bench: Bench) -> DaemonResources {
        var resources = DaemonResources()
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        resources.descriptors = fds.map { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { return "?" }
            if target.hasPrefix("/dev/pts/") || target == "/dev/ptmx" { return "pty" }
            if target.hasPrefix("socket:") { return "socket" }
            if target.hasPrefix("pipe:") { return "pipe" }
            return target
        }.sorted()
        resources.runtimeTimers = resources.descriptors.filter { $0 == "anon_inode:[timerfd]" }.count
        resources.descriptors.removeAll { $0 == "anon_inode:[timerfd]" }
        resources.children = childProcesses(of: pid)
        resources.lockFiles = bench.lockFiles
        resources.lineLinks = ((try? FileManager.default.contentsOfDirectory(atPath: bench.folder + "/lines")) ?? []).sorted()
        resources.hookFolders = ((try? FileManager.default.contentsOfDirectory(atPath: bench.folder + "/ppp")) ?? []).sorted()
        return resources
    }

    /// Processes other than `daemon` whose command line names `folder` (a bench's): what
    /// a killed daemon's children would be once orphaned.
    static func processes(naming folder: String, besides daemon: Int32) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { $0 != daemon && $0 != getpid() }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(folder) ? "\(pid): \(line.prefix(120))" : nil
        }
    }

    /// What `self` holds beyond `other` and what it lacks, for a message.
    func difference(from other: DaemonResources) -> String {
        var extra = descriptors, missing = other.descriptors
        for fd in other.descriptors { if let index = extra.firstIndex(of: fd) { extra.remove(at: index) } }
        for fd in descriptors { if let index = missing.firstIndex(of: fd) { missing.remove(at: index) } }
        var parts: [String] = []
        if !extra.isEmpty { parts.append("more fds \(extra)") }
        if runtimeTimers > 3 || runtimeTimers < other.runtimeTimers { parts.append("timerfds \(runtimeTimers) (before \(other.runtimeTimers))") }
        if !missing.isEmpty { parts.append("fewer fds \(missing)") }
        if children != other.children { parts.append("children \(children) (before \(other.children))") }
        if lockFiles != other.lockFiles { parts.append("locks \(lockFiles) (before \(other.lockFiles))") }
        if lineLinks != other.lineLinks { parts.append("links \(lineLinks) (before \(other.lineLinks))") }
        if hookFolders != other.hookFolders { parts.append("hooks \(hookFolders) (before \(other.hookFolders))") }
        return parts.joined(separator: ", ")
    }

    /// The live (not zombie-reaped) children of `pid`.
    static func childProcesses(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }.sorted()
    }

    var description: String {
        "\(descriptors.count) fds (\(ptys) ptys) children \(children) locks \(lockFiles) links \(lineLinks) hooks \(hookFolders)"
    }
}

// MARK: - The lab

/// One cell's world: a bench folder, a fake modem in this process (behind the link
/// `<folder>/modem`), `rasmand`, and a client.
final class FaultLab: @unchecked Sendable {
    static let standIn = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("RASTests/Fixtures/pppd-stand-in.sh").path
    static let password = "fault-matrix-s3cret"

    static let scenario = """
        description: fault matrix
        modem-defaults: {ring-interval: 0.25, registers: {S12: 10}}
        modems:
          - {name: line, number: "5550900"}
        numbers:
          - number: "5550100"
            result: BUSY
            delay: 0.3
        otherwise:
          connect: CONNECT 115200
          delay: 0.3
        """

    let bench: Bench
    let fault: MatrixFault
    let phase: MatrixPhase
    private(set) var bank: FakeModemBank
    private(set) var daemon: Spawned
    private(set) var client: RASClient
    private(set) var baseline: DaemonResources
    private(set) var network: NetworkFrontEnd?
    var problems: [String] = []
    let link: String
    let book: String
    private var extraDaemonArguments: [String] = []
    private var daemonStderr: String?
    private var foreignHolder: Process?
    /// Whether rasmand was killed and started again in this cell.
    private var restarted = false
    /// The connection the cell is about (dialled or answered).
    private var current: RasConnectionHandle?
    /// What the daemon holds while the line is idle, before the call.
    private var lineIdle: DaemonResources?
    /// The mount point of the small full file system (full-disk cells), when mounted.
    private var fullDisk: String?

    var modem: EmulatedModem { bank.modems[0] }

    private init(bench: Bench, fault: MatrixFault, phase: MatrixPhase) async throws {
        self.bench = bench
        self.fault = fault
        self.phase = phase
        link = bench.folder + "/modem"
        book = bench.folder + "/matrix.pbk"
        var transcript = bench.folder + "/transcript.log"
        var stderr: String?
        if fault == .fullDisk {
            if let mount = Self.mountFullFileSystem(at: bench.folder + "/full") {
                fullDisk = mount
                transcript = mount + "/transcript.log"
                stderr = mount + "/rasmand.log"
            } else {
                print("fault matrix: full disk: no small tmpfs could be mounted (not root?); rasmand logs to /dev/full, the transcript goes to a normal file")
                stderr = "/dev/full"
            }
        }
        bank = try FakeModemBank(scenario: try Scenario(yaml: Self.scenario, source: "fault-matrix"), transcriptPath: transcript)
        try await bank.start()
        var port = link
        if fault == .serverVanishes {
            let front = try NetworkFrontEnd(modem: bank.modems[0], host: "127.0.0.1", port: 0, mode: .rfc2217)
            try front.start()
            network = front
            port = front.url
        } else {
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bank.modems[0].slavePath)
        }
        let passwordFile = bench.folder + "/password"
        try (Self.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try """
            [Out]
            Port=\(port)
            PhoneNumber=5551234
            InitTimeoutSeconds=1
            DialTimeoutSeconds=3

            [ISP]
            Port=\(port)
            PhoneNumber=5551234
            InitTimeoutSeconds=1
            DialTimeoutSeconds=3
            Framing=PPP
            PppdPath=\(Self.standIn)
            PppdOptions=stall
            User=alice
            PasswordFile=\(passwordFile)

            [Line]
            Answer=1
            Port=\(port)
            ListenRetrySeconds=1
            ListenRecheckSeconds=1
            InitTimeoutSeconds=1
            DialTimeoutSeconds=3

            """.write(toFile: book, atomically: true, encoding: .utf8)
        daemonStderr = stderr
        daemon = try Self.startDaemon(bench, stderr: daemonStderr)
        _ = try await daemon.ready()
        client = try await bench.client()
        baseline = DaemonResources()
        baseline = await settledResources()
    }

    /// The daemon's resources once a request has gone through and they stay the same
    /// for 100 ms (the client's socket accepted, the daemon idle).
    func settledResources() async -> DaemonResources {
        _ = try? await client.enumConnections()
        var last = DaemonResources.of(pid: daemon.pid, bench: bench)
        for _ in 0..<20 {
            try? await Task.sleep(for: .milliseconds(100))
            let now = DaemonResources.of(pid: daemon.pid, bench: bench)
            if now.holdsTheSame(as: last) && now.runtimeTimers == last.runtimeTimers { return now }
            last = now
        }
        return last
    }

    static func startDaemon(_ bench: Bench, stderr: String?, extra: [String] = []) throws -> Spawned {
        let child = try Spawned(try Binaries.url("rasmand"), bench.daemonArguments + extra, name: "rasmand",
                                folder: bench.folder, stderrPath: stderr)
        bench.adopt(child)
        return child
    }

    /// Runs one cell in a fresh lab; never throws (a thrown error is the cell's problem).
    static func run(_ fault: MatrixFault, _ phase: MatrixPhase) async -> CellResult {
        var result = CellResult(outcome: "?", problems: [])
        do {
            try await Bench.run("matrix") { bench in
                let lab = try await FaultLab(bench: bench, fault: fault, phase: phase)
                do {
                    result.outcome = try await lab.play()
                    await lab.checkTheEnd()
                } catch {
                    lab.problems.append("\(error)")
                }
                if !lab.problems.isEmpty {
                    let log = lab.daemon.stderr.split(whereSeparator: \.isNewline).suffix(60).joined(separator: "\n")
                    print("fault matrix: \(fault.rawValue) × \(phase.rawValue): the end of rasmand's log:\n\(log)")
                }
                await lab.finish()
                result.problems = lab.problems
            }
        } catch {
            result.problems.append("the lab failed: \(error)")
        }
        return result
    }

    private func finish() async {
        await client.close()
        if let holder = foreignHolder {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        await network?.stop()
        await bank.stop()
        if let fullDisk {
            // Lazily: rasmand may still hold its log there until the bench stops it.
            _ = try? Self.runTool("/bin/umount", ["-l", fullDisk])
        }
    }

    /// Mounts a 16 KiB tmpfs at `path` and fills it, so that every write there fails with
    /// ENOSPC; `nil` when it cannot be mounted.
    static func mountFullFileSystem(at path: String) -> String? {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard (try? runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=16k,mode=0755", "tmpfs", path])) == 0 else { return nil }
        guard FileManager.default.createFile(atPath: path + "/filler", contents: nil),
              let filler = FileHandle(forWritingAtPath: path + "/filler") else { return nil }
        let block = Data(count: 4096)
        while (try? filler.write(contentsOf: block)) != nil {}
        try? filler.close()
        return path
    }

    /// Runs a tool and returns its exit status.
    static func runTool(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        if !condition { problems.append(what()) }
    }

    // MARK: Playing a cell

    /// Plays the cell: sets the fault up at its phase, drives the connection or line
    /// through it, hangs up; returns the RAS outcome seen before the hang-up.
    func play() async throws -> String {
        switch phase {
        case .listening, .answering: return try await playLine()
        default: return try await playDial()
        }
    }

    /// The fault strikes now (the phase has been reached).
    private func strike() async throws {
        switch fault {
        case .noise: modem.changeFaults(FaultSet(noise: LineNoise(rate: 1, seed: 7)))
        case .silent: modem.changeFaults(FaultSet(hung: true))
        case .lateResults: modem.changeFaults(FaultSet(lateResults: .milliseconds(400)))
        case .duplicateResults: modem.changeFaults(FaultSet(duplicateResults: true))
        case .ignoresDTR: modem.changeFaults(FaultSet(ignoresDTR: true))
        case .ignoresATH: modem.changeFaults(FaultSet(ignoresHangUp: true))
        case .leftOnline: try await leaveOnline()
        case .carrierDrop: modem.dropCarrier()
        case .unplug: modem.unplug()
        case .clientKilled: break  // played by the flows (the client is a rasdial process)
        case .dataProgramKilled: try await killDataProgram()
        case .daemonKilled: try await restartDaemon()
        case .fullDisk: break  // from the start: the lab was made with it
        case .foreignLock: try holdLock(pid: startForeignHolder())
        case .staleLock: try holdLock(pid: deadPID())
        case .serverVanishes: await network?.stop()
        }
    }

    /// The fault is over: the modem behaves again (a modem that was unplugged stays so).
    private func heal() {
        modem.changeFaults(FaultSet())
    }

    /// What to expect before the hang-up, per cell.
    private var expected: Set<String> {
        if phase == .listening || phase == .answering {
            switch (fault, phase) {
            case (.foreignLock, .listening): return ["listen error 633"]
            // ATA unanswered: the dial timeout's 678, as for a dial.
            case (.silent, .answering): return ["incoming Disconnected 678"]
            // Gone at the RING: the line finds out before or while it answers.
            case (.unplug, .answering), (.serverVanishes, .answering): return ["no call", "incoming Disconnected 630"]
            case (.carrierDrop, .answering): return ["incoming Disconnected 679"]
            case (.daemonKilled, .answering): return ["answered after restart"]
            default: return ["answered Connected"]
            }
        }
        switch (fault, phase) {
        case (.silent, .initializing): return ["Disconnected 666"]
        case (.silent, .dialing): return ["Connected"]
        // Unplugged before the dial: the node is gone (608); during it: hardware failure (630).
        case (.unplug, .initializing): return ["error 608", "Disconnected 608"]
        case (.unplug, .dialing), (.unplug, .connected), (.unplug, .ppp): return ["Disconnected 630"]
        // A terminal server gone before the dial refuses the connection (633); during a call
        // its socket closes (630, the device is gone) unless DCD's fall came first (629).
        case (.serverVanishes, .initializing): return ["error 633", "Disconnected 633"]
        case (.serverVanishes, .dialing): return ["Disconnected 630"]
        case (.serverVanishes, .connected), (.serverVanishes, .ppp): return ["Disconnected 630", "Disconnected 629"]
        case (.carrierDrop, .dialing): return ["Disconnected 679"]
        case (.carrierDrop, .connected), (.carrierDrop, .ppp): return ["Disconnected 629"]
        case (.foreignLock, .initializing): return ["Disconnected 633", "error 633"]
        case (.dataProgramKilled, .ppp): return ["Disconnected 628"]
        case (.daemonKilled, _): return ["Connected after restart"]
        case (_, .ppp): return ["AuthProject"]
        default: return ["Connected"]
        }
    }

    /// The dial flows: init, dialing, connected + data, PPP negotiating, hanging up.
    private func playDial() async throws -> String {
        let entry = phase == .ppp ? "ISP" : "Out"
        let mark = modem.transcriptMark
        if phase == .initializing {
            try await strike()
            if fault == .daemonKilled { return try await checked(dialAfterRestart(entry: entry)) }
        }
        if fault == .leftOnline { heal() }

        if fault == .clientKilled { return try await playKilledClient(entry: entry) }

        let dial: RasDialHandle
        do {
            dial = try await client.dial(.entry(entry, phonebookPath: book))
        } catch {
            return checked("error \(error.code)")
        }
        current = dial.handle
        if phase == .dialing {
            check(await modem.waitForEvent("dial", after: mark, timeout: .seconds(10)) != nil, "the modem never dialed")
            try await strike()
            if fault == .daemonKilled { return try await checked(dialAfterRestart(entry: entry)) }
        }
        var outcome = await settle(dial.handle, ppp: phase == .ppp)
        if phase == .connected || phase == .ppp {
            guard outcome == "Connected" || outcome == "AuthProject" else {
                problems.append("\(outcome) before the fault struck")
                await hangUp(dial.handle)
                return outcome
            }
            if phase == .connected && fault != .daemonKilled { await traffic(dial.handle, expectEcho: true) }
            try await strike()
            if fault == .daemonKilled { return try await checked(dialAfterRestart(entry: entry)) }
            outcome = await settle(dial.handle, ppp: phase == .ppp, after: .milliseconds(fault.settleTime))
            if phase == .connected && outcome == "Connected" { await traffic(dial.handle, expectEcho: fault != .silent) }
        }
        if phase == .hangingUp {
            check(outcome == "Connected", "\(outcome) before the hang-up")
            if fault.strikesDuringHangUp {
                // The hang-up is under way (DTR dropped, or +++ being guarded) when it strikes.
                let handle = dial.handle
                let client = client
                let request = Task { try await client.hangUp(handle) }
                try await Task.sleep(for: .milliseconds(50))
                try await strike()
                _ = await request.result
                if fault == .daemonKilled { return try await checked(dialAfterRestart(entry: entry)) }
                check(await waitUntilGone(handle, on: self.client, timeout: .seconds(20)),
                      "the connection was not gone (6) 20 s after the hang-up")
                heal()
                return outcome
            }
            try await strike()
        }
        await hangUp(dial.handle)
        heal()
        return checked(outcome)
    }

    /// Records a problem unless `outcome` is one this cell expects; returns it.
    private func checked(_ outcome: String) -> String {
        check(expected.contains(outcome), "outcome \(outcome), expected \(expected.sorted())")
        return outcome
    }

    /// Waits until the dial settles (Connected, Disconnected, or for PPP AuthProject) and
    /// names its state, with the error when there is one.
    private func settle(_ handle: RasConnectionHandle, ppp: Bool, after pause: Duration = .zero) async -> String {
        if pause > .zero { try? await Task.sleep(for: pause) }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let status = try? await client.connectStatus(handle) {
                let settled = status.state == .connected || status.state == .disconnected || (ppp && status.state == .authProject)
                if settled {
                    return status.error.map { "\(status.state.name) \($0.code)" } ?? status.state.name
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return "unsettled"
    }

    /// Bytes through the data path and back from the fake modem's loopback.
    private func traffic(_ handle: RasConnectionHandle, expectEcho: Bool) async {
        guard let status = try? await client.connectStatus(handle), let path = status.dataPath else {
            problems.append("no data path while connected")
            return
        }
        do {
            let port = try SerialPort(path: path, options: SerialOptions(speed: .b115200), exclusive: false)
            defer { port.close() }
            var payload = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            payload.replaceSubrange(100..<103, with: Array("+++".utf8))
            try await port.write(payload, deadline: .now + .seconds(5))
            var received: [UInt8] = []
            let deadline = ContinuousClock.now + (expectEcho ? .seconds(5) : .milliseconds(300))
            while received.count < payload.count, ContinuousClock.now < deadline {
                guard let bytes = try? await port.read(maxCount: payload.count - received.count, deadline: deadline) else { break }
                received += bytes
            }
            if expectEcho { check(received == payload, "the data path echoed \(received.count) of \(payload.count) bytes, or other bytes") }
        } catch {
            problems.append("data path \(path): \(error)")
        }
    }

    /// Hangs up and waits until the handle is gone (6).
    private func hangUp(_ handle: RasConnectionHandle) async {
        do {
            try await client.hangUp(handle)
        } catch where error == .invalidHandle {
        } catch {
            problems.append("hang-up: \(error)")
        }
        check(await waitUntilGone(handle, on: client, timeout: .seconds(20)), "the connection was not gone (6) 20 s after the hang-up")
    }

    /// A dial by a `rasdial` process killed (SIGKILL) at the phase: the connection is the
    /// daemon's, it goes on; another client hangs it up.
    private func playKilledClient(entry: String) async throws -> String {
        let rasdial = try bench.startRasdial([entry, "--phonebook", book])
        let mark = modem.transcriptMark
        switch phase {
        case .initializing:
            _ = await TestSupport.eventually(timeout: .seconds(10)) { ((try? await self.client.enumConnections()) ?? []).count == 1 }
        case .dialing:
            _ = await modem.waitForEvent("dial", after: mark, timeout: .seconds(10))
        default:
            _ = await modem.waitForEvent("connect", after: mark, timeout: .seconds(10))
        }
        rasdial.signal(SIGKILL)
        _ = try await rasdial.waitForExit(timeout: .seconds(10))
        let connections = (try? await client.enumConnections()) ?? []
        guard let connection = connections.first else {
            problems.append("the dial of the killed client is gone")
            return "gone"
        }
        let outcome = await settle(connection.handle, ppp: false)
        check(expected.contains(outcome), "outcome \(outcome), expected \(expected.sorted())")
        if outcome == "Connected" { await traffic(connection.handle, expectEcho: true) }
        if phase == .hangingUp {
            let hanger = try bench.startRasdial(["--disconnect"])
            try? await Task.sleep(for: .milliseconds(30))
            hanger.signal(SIGKILL)
            _ = try? await hanger.waitForExit(timeout: .seconds(10))
        }
        await hangUp(connection.handle)
        return outcome
    }

    /// SIGKILLs the daemon and starts it again on the same socket and lock folder.
    private func restartDaemon() async throws {
        await client.close()
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit(timeout: .seconds(10))
        // The kernel closed the port (HUPCL): the modem hung up.
        check(await TestSupport.eventually(timeout: .seconds(5)) { !self.modem.isOffHook }, "the modem stayed off-hook after rasmand was killed")
        daemon = try Self.startDaemon(bench, stderr: daemonStderr, extra: extraDaemonArguments)
        _ = try await daemon.ready()
        client = try await bench.client()
        restarted = true
        baseline = await settledResources()
        baseline.lockFiles = []  // the dead daemon's stale lock is the next open's to reclaim
    }

    /// After a restart: the same entry dials again and connects (the stale lock reclaimed).
    private func dialAfterRestart(entry: String) async throws -> String {
        let dial = try await client.dial(.entry(entry, phonebookPath: book))
        let outcome = await settle(dial.handle, ppp: entry == "ISP")
        if outcome == "Connected" { await traffic(dial.handle, expectEcho: true) }
        await hangUp(dial.handle)
        return outcome == "Connected" || outcome == "AuthProject" ? "Connected after restart" : outcome
    }

    /// Another program opens the modem, dials, and leaves it in the call (closes without HUPCL).
    private func leaveOnline() async throws {
        let port = try SerialPort(path: modem.slavePath, options: SerialOptions(speed: .b115200, hangUpOnClose: false),
                                  exclusive: false)
        let mark = modem.transcriptMark
        try await port.write(Array("ATD5551234\r".utf8), deadline: .now + .seconds(2))
        check(await modem.waitForEvent("connect", after: mark, timeout: .seconds(5)) != nil, "the other program's call did not connect")
        port.close()
        check(modem.isOffHook, "the other program's call did not stay up")
    }

    /// Kills the program on the data path: a `socat` reading it (connected), or pppd (PPP).
    private func killDataProgram() async throws {
        if phase == .ppp {
            let pppd = DaemonResources.childProcesses(of: daemon.pid)
            check(!pppd.isEmpty, "no pppd child to kill")
            for pid in pppd { kill(pid, SIGKILL) }
            return
        }
        guard let handle = current, let path = try await client.connectStatus(handle).dataPath else {
            problems.append("no data path to put a program on")
            return
        }
        let socat = try Spawned(URL(fileURLWithPath: "/usr/bin/socat"), ["-u", "OPEN:\(path),raw,echo=0", "OPEN:/dev/null"],
                                name: "socat", folder: bench.folder)
        bench.adopt(socat)
        try await Task.sleep(for: .milliseconds(200))
        check(socat.isRunning, "socat did not stay on the data path: \(socat.stderr)")
        socat.signal(SIGKILL)
        _ = try await socat.waitForExit(timeout: .seconds(5))
    }

    /// A process that stays alive while the test runs, to hold a lock.
    private func startForeignHolder() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["60"]
        try process.run()
        foreignHolder = process
        return process.processIdentifier
    }

    /// A pid nobody has: a child that has exited and been reaped.
    private func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    /// Writes the port's UUCP lock for `pid`, as another program would.
    private func holdLock(pid: Int32) throws {
        let file = bench.lockDir + "/" + UUCPLock.lockName(for: modem.slavePath)
        try String(format: "%10d\n", pid).write(toFile: file, atomically: false, encoding: .utf8)
    }

    // MARK: Lines

    /// The line flows: the fault strikes before the line starts (listening) or at the
    /// first RING (answering); the line must answer a call (after the fault is over, when
    /// it kept the line from working) and be idle again after it.
    private func playLine() async throws -> String {
        if fault == .daemonKilled { extraDaemonArguments = ["--answer", "Line", "--answer-phonebook", book] }
        // Faults of the port's open strike before the line starts; the others while it waits.
        let atOpen: Set<MatrixFault> = [.leftOnline, .foreignLock, .staleLock, .fullDisk]
        if phase == .listening && atOpen.contains(fault) { try await strike() }
        var outcome = ""
        if fault == .clientKilled && phase == .listening { try await listenFromKilledClient() }
        do {
            if await ((try? client.enumListeners()) ?? []).isEmpty {
                _ = try await client.listen(RasListenParameters(entryName: "Line", phonebookPath: book))
            }
        } catch {
            outcome = "listen error \(error.code)"
            if fault != .foreignLock { problems.append("listen failed: \(error)") }
            return checked(outcome)
        }
        check(await lineState(in: ["idle"], timeout: .seconds(15)) == "idle", "the line never got idle")
        if phase == .listening && !atOpen.contains(fault) && fault != .clientKilled {
            try await strike()
            let lost: Set<MatrixFault> = [.silent, .unplug, .serverVanishes]
            if lost.contains(fault) {
                // The line finds out (the recheck's AT unanswered, the port hung up) and retries.
                let state = await lineState(in: ["retrying"], timeout: .seconds(10))
                check(state == "retrying", "a line whose modem is lost (\(fault.rawValue)): \(state ?? "nothing"), expected retrying")
                heal()
                if fault == .unplug { try await replugModem() }
                if fault == .serverVanishes { try await restartServer() }
            }
            check(await lineState(in: ["idle"], timeout: .seconds(20)) == "idle", "the line never got idle again after \(fault.rawValue)")
        }
        lineIdle = await settledResources()

        // A call.
        let ringMark = modem.transcriptMark
        modem.call(ExternalCall(after: .zero, caller: CallerID(number: .number("5557777"), name: "MATRIX"),
                                handshake: .milliseconds(100)))
        if phase == .answering {
            check(await modem.waitForEvent("ring", after: ringMark, timeout: .seconds(5)) != nil, "the modem never rang")
            switch fault {
            case .clientKilled:
                // A client watching the line (rasdial --listeners --watch) killed while it rings.
                let watcher = try bench.startRasdial(["--listeners", "--watch"])
                try? await Task.sleep(for: .milliseconds(100))
                watcher.signal(SIGKILL)
                _ = try await watcher.waitForExit(timeout: .seconds(10))
            case .dataProgramKilled:
                break  // there is a data path only once the call is answered (below)
            case .carrierDrop:
                // While the modem trains with the caller, after ATA.
                check(await modem.waitForEvent("answer", after: ringMark, timeout: .seconds(5)) != nil, "the line never answered")
                try await strike()
            default:
                try await strike()
            }
        }
        let answered = await incomingCall()
        switch (fault, phase) {
        case (.silent, .answering), (.unplug, .answering), (.serverVanishes, .answering), (.carrierDrop, .answering):
            // The call is lost; the line reports it and recovers.
            outcome = answered.map { "incoming \($0.state)" } ?? "no call"
            if let answered { await hangUp(answered.handle) }
            heal()
            if fault == .unplug { try await replugModem() }
            if fault == .serverVanishes { try await restartServer() }
        case (.daemonKilled, .answering):
            outcome = try await answerAfterRestart()
        default:
            guard let answered else {
                problems.append("the line did not answer")
                return "no call"
            }
            outcome = "answered " + answered.state
            current = answered.handle
            check(answered.state == "Connected", "the answered call is \(answered.state)")
            if answered.state == "Connected" { await traffic(answered.handle, expectEcho: true) }
            if fault == .dataProgramKilled {
                try await killDataProgram()
                await traffic(answered.handle, expectEcho: true)
            }
            await hangUp(answered.handle)
        }
        heal()
        check(await lineState(in: ["idle"], timeout: .seconds(20)) == "idle", "the line is not listening again after the call")
        if let lineIdle {
            // Idle again holds what idle held before the call.
            let same = await TestSupport.eventually(timeout: .seconds(5)) {
                DaemonResources.of(pid: self.daemon.pid, bench: self.bench).holdsTheSame(as: lineIdle)
            }
            if !same {
                let now = DaemonResources.of(pid: daemon.pid, bench: bench)
                problems.append("the idle line holds other resources than before the call: \(now.difference(from: lineIdle))")
            }
        }
        do {
            _ = try await client.stopListening(entryName: "Line")
        } catch {
            problems.append("stopListening: \(error)")
        }
        check(await TestSupport.eventually(timeout: .seconds(10)) { (try? await self.client.enumListeners())?.isEmpty ?? false },
              "the line did not go after stopListening")
        return checked(outcome)
    }

    /// The line is asked for by a `rasdial --listen` killed (SIGKILL) right after: the line
    /// is the daemon's and goes on (asked for again when the kill came before the request).
    private func listenFromKilledClient() async throws {
        let rasdial = try bench.startRasdial(["Line", "--listen", "--phonebook", book])
        try? await Task.sleep(for: .milliseconds(30))
        rasdial.signal(SIGKILL)
        _ = try await rasdial.waitForExit(timeout: .seconds(10))
        _ = await TestSupport.eventually(timeout: .seconds(2)) { !((try? await self.client.enumListeners()) ?? []).isEmpty }
    }

    /// After a restart during a call: the restarted daemon's line answers the next call.
    private func answerAfterRestart() async throws -> String {
        try await restartDaemon()
        check(await lineState(in: ["idle"], timeout: .seconds(20)) == "idle", "the restarted daemon's line never got idle")
        lineIdle = await settledResources()
        modem.call(ExternalCall(after: .zero, caller: CallerID(number: .number("5557777")), handshake: .milliseconds(100)))
        guard let answered = await incomingCall() else {
            problems.append("the restarted line did not answer")
            return "no call"
        }
        await hangUp(answered.handle)
        return "answered after restart"
    }

    /// The line's state once it is one of `states`, or the last seen at the timeout.
    private func lineState(in states: Set<String>, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        var last: String?
        while ContinuousClock.now < deadline {
            if let line = try? await client.enumListeners().first {
                last = line.state
                if states.contains(line.state) { return line.state }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return last
    }

    /// The incoming connection once it settles; `nil` when none comes within 10 s, or the
    /// line is retrying (its modem lost) with no incoming connection.
    private func incomingCall() async -> (handle: RasConnectionHandle, state: String)? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let incoming = ((try? await client.enumConnections()) ?? []).filter { $0.direction == .incoming }
            if let call = incoming.first, call.state == .connected || call.state == .disconnected {
                return (call.handle, call.error.map { "\(call.state.name) \($0.code)" } ?? call.state.name)
            }
            if incoming.isEmpty, (try? await client.enumListeners().first?.state) == "retrying" { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// A new modem behind the same link, as when the cable is plugged back in.
    private func replugModem() async throws {
        await bank.stop()
        bank = try FakeModemBank(scenario: try Scenario(yaml: Self.scenario, source: "fault-matrix"), transcriptPath: bench.folder + "/transcript-2.log")
        try await bank.start()
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bank.modems[0].slavePath)
    }

    /// The terminal server comes back on its port.
    private func restartServer() async throws {
        guard let old = network else { return }
        let front = try NetworkFrontEnd(modem: bank.modems[0], host: "127.0.0.1", port: old.port, mode: .rfc2217)
        try front.start()
        network = front
    }

    // MARK: The end of every cell

    /// On-hook from the transcript, and nothing left in the daemon.
    func checkTheEnd() async {
        let onHook = await TestSupport.eventually(timeout: .seconds(5)) { !self.modem.isOffHook }
        let hookEvents = modem.events.filter { $0.hasPrefix("on-hook") || $0.hasPrefix("off-hook") || $0 == "unplug" }
        check(onHook && !(hookEvents.last?.hasPrefix("off-hook") ?? false),
              "the modem ended off-hook (transcript: \(hookEvents.suffix(3)))")
        if fault == .foreignLock, let holder = foreignHolder {
            // The daemon must have left the live process's lock alone; now it goes.
            check(bench.lockFiles.count == 1, "the foreign lock was taken away: \(bench.lockFiles)")
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
            foreignHolder = nil
            for file in bench.lockFiles { try? FileManager.default.removeItem(atPath: bench.lockDir + "/" + file) }
        }
        if restarted && (phase == .listening || phase == .answering) {
            // The restarted daemon opened the line itself: its baseline was taken with the
            // line open, and the line is gone now; nothing of it may be left.
            let now = DaemonResources.of(pid: daemon.pid, bench: bench)
            check(now.ptys == 0 && now.children.isEmpty && now.lockFiles.isEmpty && now.lineLinks.isEmpty && now.hookFolders.isEmpty,
                  "the restarted daemon holds a line's resources after stopListening: \(now)")
        } else {
            let settled = await TestSupport.eventually(timeout: .seconds(5)) {
                DaemonResources.of(pid: self.daemon.pid, bench: self.bench).holdsTheSame(as: self.baseline)
            }
            if !settled {
                let now = DaemonResources.of(pid: daemon.pid, bench: bench)
                problems.append("the daemon holds other resources than before: \(now.difference(from: baseline))")
            }
        }
        let strays = await TestSupport.eventually(timeout: .seconds(5)) {
            DaemonResources.processes(naming: self.bench.folder, besides: self.daemon.pid).isEmpty
        }
        check(strays, "processes left behind: \(DaemonResources.processes(naming: bench.folder, besides: daemon.pid))")
        if fault == .fullDisk {
            check(daemon.isRunning, "rasmand died of a full disk")
            if let fullDisk {
                let size = (try? FileManager.default.attributesOfItem(atPath: fullDisk + "/rasmand.log")[.size] as? Int) ?? -1
                check(size == 0, "the full disk took \(size) bytes of log: it was not full")
            }
        } else if phase == .ppp {
            let log = daemon.stderr
            check(!log.contains(Self.password), "the PPP password is in rasmand's log")
        }
    }
}

extension MatrixFault {
    /// Whether, in the hanging-up phase, the fault strikes while the hang-up runs (an
    /// event) rather than being set before it (a behaviour of the modem).
    var strikesDuringHangUp: Bool {
        switch self {
        case .carrierDrop, .unplug, .daemonKilled, .serverVanishes: true
        default: false
        }
    }

    /// How long the fault is given to show before the outcome is read (connected / PPP).
    var settleTime: Int {
        switch self {
        case .carrierDrop, .unplug, .serverVanishes, .dataProgramKilled: 1500
        default: 300
        }
    }
}
