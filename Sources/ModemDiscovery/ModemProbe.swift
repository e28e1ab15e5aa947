import Hayes
import Serial

/// Timing and locking of the AT probe.
public struct ProbeSettings: Sendable, Hashable {
    /// The line speed to probe at, unless the port's rules ask for another
    /// (`ID_SWIFT_RAS_PROBE_BAUD`). USB modems ignore it; an RS-232 modem autobauds.
    public var speed: BaudRate
    /// How long to wait for the final result of each command. wvdialconf waits 0.5 s;
    /// SiLabs modems answer within 200 ms; ModemManager allows 3 s per `AT`.
    public var answerTimeout: Duration
    /// The pause after a final result before the next command line: none by default; a
    /// modem that loses commands sent too soon teaches the session its pause (see
    /// `CommandPacing`), which is remembered for the port.
    public var commandGap: Duration
    /// How long the line must stay quiet before a line ended by a lone CR is taken as
    /// complete (see `LineFramer`).
    public var quietTime: Duration
    /// The UUCP lock directory; `nil` picks `UUCPLock.defaultDirectory()`. Tests pass a
    /// temporary folder.
    public var lockDirectory: String?

    /// Defaults: 115200 bit/s, 1 s per answer, no pause between commands, 30 ms quiet time,
    /// the standard lock directory.
    public init(
        speed: BaudRate = .b115200, answerTimeout: Duration = .seconds(1),
        commandGap: Duration = .zero, quietTime: Duration = .milliseconds(30),
        lockDirectory: String? = nil
    ) {
        self.speed = speed
        self.answerTimeout = answerTimeout
        self.commandGap = commandGap
        self.quietTime = quietTime
        self.lockDirectory = lockDirectory
    }

    /// The session timing of a probe: each answer within ``answerTimeout``, a command
    /// counted as lost after half of it.
    var timing: ModemTiming {
        var timing = ModemTiming()
        timing.command = answerTimeout
        timing.interCommand = commandGap
        timing.quietFlush = quietTime
        timing.lostCommandWindow = min(timing.lostCommandWindow, answerTimeout / 2)
        return timing
    }
}

/// Asks a port whether a modem answers on it, and who it is.
///
/// The probe takes the port's UUCP lock first (a port locked by a live process is
/// reported ``ProbeResult/Status/inUse`` and never opened), then opens it exclusively
/// (`TIOCEXCL` + `flock`, see `SerialPort`), so a port in use by another program is
/// skipped, not disturbed. It sends `ATQ0V1E0` (results on, verbal, no echo — a `Q1`
/// modem would otherwise look dead), then `AT`: any final result (`OK`, or `ERROR`) proves
/// an AT port. Then `ATI`, `AT+GCAP`, `AT+GMI`, `AT+GMM`, `AT+GMR` and `AT+GSN`, each with
/// ``ProbeSettings/answerTimeout``; a command answered with `ERROR` or not at all leaves
/// its field empty. Responses are framed and classified by the `Hayes` codecs, so echo,
/// `RING`, blank lines, NULs and parity bits are handled as in a dial.
public struct ModemProbe: Sendable {
    /// Timing and locking.
    public var settings: ProbeSettings

    /// A probe with the given settings.
    public init(settings: ProbeSettings = ProbeSettings()) {
        self.settings = settings
    }

    /// Probes the port at `path` (a device node or a link to one) at `speed`
    /// (``ProbeSettings/speed`` if `nil`). Never throws: every failure is a result.
    public func probe(path: String, speed: BaudRate? = nil) async -> ProbeResult {
        let start = ContinuousClock.now
        let speed = speed ?? settings.speed
        var result = await run(path: path, speed: speed)
        result.speed = speed.rawValue
        result.duration = start.duration(to: .now)
        return result
    }

    private func run(path: String, speed: BaudRate) async -> ProbeResult {
        var lock: UUCPLock?
        do throws(SerialError) {
            lock = try UUCPLock.acquire(device: path, directory: settings.lockDirectory)
        } catch .locked(_, let lockFile, let pid) {
            return ProbeResult(status: .inUse, detail: "locked by process \(pid) (\(lockFile))")
        } catch .badLockFile(_, let lockFile, let kind) {
            return ProbeResult(status: .inUse, detail: "its lock file \(lockFile) is a \(kind), not a lock file")
        } catch {
            // No writable lock directory: respect the locks other programs hold in the
            // directories we can read, then rely on the exclusive open alone.
            let directories = settings.lockDirectory.map { [$0] } ?? UUCPLock.standardDirectories
            for directory in directories {
                if let holder = UUCPLock.holder(of: path, directory: directory) {
                    let who = holder == 0 ? "a lock file that is not a regular file" : "process \(holder)"
                    return ProbeResult(status: .inUse, detail: "locked by \(who) in \(directory)")
                }
            }
        }
        defer { lock?.release() }

        let port: SerialPort
        do throws(SerialError) {
            port = try SerialPort(path: path, options: SerialOptions(speed: speed), exclusive: true)
        } catch .inUse {
            return ProbeResult(status: .inUse, detail: "\(path) is open exclusively by another program")
        } catch {
            return ProbeResult(status: .failed, detail: error.description)
        }
        defer { port.close() }

        let session = ModemSession(port: port, timing: settings.timing)
        /// The answer to `command`, or `nil` when the modem stays silent (the probe moves on).
        func ask(_ command: ATCommand) async throws(ModemError) -> CommandResponse? {
            do {
                return try await session.send(command, resynchronising: false)
            } catch .noResponse {
                return nil
            }
        }
        do throws(ModemError) {
            _ = try await ask(ModemSession.resultsOn)
            guard let attention = try await ask(.attention) else {
                let heard = await session.unansweredLines
                let detail = heard.isEmpty ? "no answer to AT" : "no final result to AT; received: " + heard.joined(separator: " | ")
                return ProbeResult(status: .notModem, detail: detail)
            }
            var identity = ProbedIdentity(attentionResult: attention.final.description)
            let information = try await ask(ATCommand(.identify(0)))
            identity.information = information?.final == .ok ? information?.info ?? [] : []
            identity.capabilities = Self.capabilities(try await ask(ATCommand(.capabilities)))
            identity.manufacturer = Self.text(try await ask(ATCommand(.manufacturer)), prefix: "+GMI:")
            identity.model = Self.text(try await ask(ATCommand(.model)), prefix: "+GMM:")
            identity.revision = Self.text(try await ask(ATCommand(.revision)), prefix: "+GMR:")
            identity.serialNumber = Self.text(try await ask(ATCommand(.serialNumber)), prefix: "+GSN:")
            return ProbeResult(status: .modem, identity: identity)
        } catch {
            return ProbeResult(status: .failed, detail: error.description)
        }
    }

    /// `+GCAP: +FCLASS, +MS, +ES, +DS` → `["+FCLASS", "+MS", "+ES", "+DS"]`.
    static func capabilities(_ response: CommandResponse?) -> [String] {
        guard let response, response.final == .ok else { return [] }
        return response.info.flatMap { line in
            strip(prefix: "+GCAP:", from: line)
                .split(separator: ",")
                .map { String($0).trimmingASCIIWhitespace() }
                .filter { !$0.isEmpty }
        }
    }

    /// The information text of an `OK` answer, without an optional `+GMI:`-style prefix
    /// (also the `+CGMI:` form of cellular modems); `nil` for `ERROR`, silence or no text.
    static func text(_ response: CommandResponse?, prefix: String) -> String? {
        guard let response, response.final == .ok else { return nil }
        let cellular = "+C" + prefix.dropFirst()
        let lines = response.info
            .map { strip(prefix: cellular, from: strip(prefix: prefix, from: $0)) }
            .filter { !$0.isEmpty }
        return lines.isEmpty ? nil : lines.joined(separator: " ")
    }

    private static func strip(prefix: String, from line: String) -> String {
        let trimmed = line.trimmingASCIIWhitespace()
        guard trimmed.uppercased().hasPrefix(prefix) else { return trimmed }
        return String(trimmed.dropFirst(prefix.count)).trimmingASCIIWhitespace()
    }
}
