import ArgumentParser
import Dispatch
import FakeModem
import SystemIO
import Foundation

/// `fakemodem`: serves fake Hayes modems on pseudo-terminals until SIGINT or SIGTERM.
@main
struct FakeModemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fakemodem",
        abstract: "Serve fake Hayes modems on pseudo-terminals.",
        discussion: """
            Prints 'ready <slave path>' on stdout for each modem (in order) once it answers \
            ('ready <slave path> <url>' with --listen), then serves until SIGINT or SIGTERM, \
            removes the links and exits 0. A bad scenario exits 2 and a bad option 64, with the \
            reason on stderr; a --listen address that cannot be bound (in use) exits 1.
            """)

    @Option(help: "Make this path a symlink to the modem's pty slave (PATH-0 … PATH-(N-1) for several modems).")
    var link: String?

    @Option(help: "How many modems to serve, all on one exchange (default: as many as the scenario lists, at least 1).")
    var count: Int?

    @Option(help: "A YAML scenario file (default: every number connects with CONNECT 115200).")
    var scenario: String?

    @Option(help: "Write the transcript to this file.")
    var transcript: String?

    @Option(help: "Line noise around results: probability 0…1 of a burst before and after each.")
    var noise: Double?

    @Option(help: "Seed for --noise.")
    var noiseSeed: UInt64 = 1

    @Option(help: "Seconds by which call results (BUSY, NO CARRIER, …) arrive late.")
    var lateResults: Double?

    @Flag(help: "Send every final result twice.")
    var duplicateResults = false

    @Flag(help: "Ignore DTR drops whatever &D says.")
    var ignoreDTR = false

    @Flag(help: "Answer ATH with OK but stay in the call.")
    var ignoreHangup = false

    @Option(help: "Seconds before every command line is answered.")
    var slow: Double?

    @Flag(help: "Keep echoing whatever E0 says.")
    var stuckEcho = false

    @Option(help: "Ignore the first N command lines after power-up.")
    var dropFirstLines: Int?

    @Flag(help: "Send V1 results without their leading CR LF.")
    var omitLeadingCRLF = false

    @Option(help: "Send an unsolicited RING every this many seconds while idle.")
    var spuriousRings: Double?

    @Flag(help: "Set an even-parity bit 7 on bytes sent in command state.")
    var parityBit = false

    @Option(help: "Seconds the modem keeps resetting (ignoring every byte) after ATZ answers OK.")
    var busyAfterReset: Double?

    @Option(help: "Lose bytes that arrive sooner than this many seconds after a final result.")
    var commandGap: Double?

    @Option(help: "Ring every modem with a call from outside this many seconds after start.")
    var ringAfter: Double?

    @Option(help: "The calling number of --ring-after: digits, 'private' or 'unavailable' (default unavailable).")
    var caller: String?

    @Option(help: "How the caller ID of --ring-after is reported: formatted, clip, sdmf, mdmf or none (default: as the modem's +VCID/#CID/%CCID/+CLIP mode says).")
    var callerIdFormat: String?

    @Option(help: "The caller's name in the caller ID of --ring-after.")
    var callerName: String?

    @Option(help: "The caller of --ring-after hangs up this many seconds after CONNECT.")
    var callerHangsUpAfter: Double?

    @Option(help: "Seconds between the RINGs of an incoming call (default: the scenario's, else 6).")
    var ringInterval: Double?

    @Flag(help: "Pass online data to the computer no faster than the CONNECT rate (rate/10 bytes per second).")
    var pace = false

    @Option(help: ArgumentHelp(
        "Also serve each modem over TCP, one client at a time: tcp://HOST:PORT (an IPv6 host in brackets; PORT 0: any free port; rfc2217://HOST:PORT is tcp:// with --rfc2217). With --count N, modem i listens on PORT+i.",
        valueName: "url"))
    var listen: String?

    @Flag(help: "Speak RFC 2217 (Telnet COM-PORT-OPTION) on --listen: the client sets the speed and DTR (emulated as B0), and is told DCD, DSR, CTS and RI.")
    var rfc2217 = false

    func validate() throws {
        if ringAfter == nil, caller != nil || callerIdFormat != nil || callerName != nil || callerHangsUpAfter != nil {
            throw ValidationError("--caller, --caller-id-format, --caller-name and --caller-hangs-up-after need --ring-after")
        }
        if let ringInterval, !(ringInterval > 0 && ringInterval <= 86_400) {
            throw ValidationError("--ring-interval takes seconds, more than 0 and at most 86400")
        }
        for (name, value) in [("--ring-after", ringAfter), ("--caller-hangs-up-after", callerHangsUpAfter)] {
            if let value, !(value >= 0 && value <= 86_400) { throw ValidationError("\(name) takes seconds from 0 to 86400") }
        }
        if let callerIdFormat, CallerIDForm(rawValue: callerIdFormat) == nil {
            throw ValidationError("--caller-id-format is one of \(CallerIDForm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let caller, !["private", "unavailable"].contains(caller),
           caller.isEmpty || !caller.allSatisfy({ "0123456789*#ABCD".contains($0) }) {
            throw ValidationError("--caller takes dial digits (0-9 * # A-D), 'private' or 'unavailable'")
        }
        if let callerName, callerName.isEmpty || callerName.utf8.count > 80 || !callerName.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "\"" }) {
            throw ValidationError("--caller-name is 1 to 80 ASCII characters without quotes or line breaks")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let noise, !(0...1).contains(noise) { throw ValidationError("--noise is a probability from 0 to 1") }
        for (name, value) in [("--late-results", lateResults), ("--slow", slow), ("--spurious-rings", spuriousRings),
                              ("--busy-after-reset", busyAfterReset), ("--command-gap", commandGap)] {
            if let value, !(value >= 0 && value <= 86_400) { throw ValidationError("\(name) takes seconds from 0 to 86400") }
        }
        if let dropFirstLines, dropFirstLines < 0 { throw ValidationError("--drop-first-lines cannot be negative") }
        if let listen {
            let endpoint: NetworkFrontEnd.Endpoint
            do { endpoint = try NetworkFrontEnd.Endpoint(url: listen) } catch { throw ValidationError("--listen: \(error)") }
            if let count, endpoint.port != 0, endpoint.port + count - 1 > 65535 {
                throw ValidationError("--listen: ports \(endpoint.port)…\(endpoint.port + count - 1) for --count \(count) go past 65535")
            }
        } else if rfc2217 {
            throw ValidationError("--rfc2217 needs --listen")
        }
    }

    func run() async throws {
        TerminationSignals.ignoreBrokenPipe()
        // Watch for the signals before anything can be announced, so none is missed.
        let termination = TerminationSignals()
        var exchange = Scenario.default
        if let scenario {
            do {
                exchange = try Scenario(contentsOf: URL(fileURLWithPath: scenario))
            } catch {
                fail("\(error)")
            }
        }
        exchange.changeFaults(applyFlags)
        exchange.changeModems(applyCallFlags)

        let bank: FakeModemBank
        do {
            bank = try FakeModemBank(scenario: exchange, count: count, transcriptPath: transcript)
        } catch {
            fail("\(error)")
        }
        let links = linkPaths(count: bank.modems.count)
        do {
            for (path, modem) in zip(links, bank.modems) { try makeLink(path, to: modem.slavePath) }
            try await bank.start()
        } catch {
            removeLinks(links, bank: bank)
            await bank.stop()
            fail("\(error)")
        }
        let servers: [NetworkFrontEnd]
        do {
            servers = try await serve(bank)
        } catch {
            removeLinks(links, bank: bank)
            await bank.stop()
            say("fakemodem: \(error)\n", to: .standardError)
            Self.exit(withError: ExitCode(1))
        }
        for (index, modem) in bank.modems.enumerated() {
            let url = index < servers.count ? " \(servers[index].url)" : ""
            say("ready \(modem.slavePath)\(url)\n", to: .standardOutput)
        }

        _ = await termination.next()
        termination.stop()
        // The clients' slaves are closed before the bank closes the masters.
        for server in servers { await server.stop() }
        await bank.stop()
        removeLinks(links, bank: bank)
    }

    /// Starts a network front end per modem for --listen (none without it); when one
    /// cannot listen, stops those already started.
    private func serve(_ bank: FakeModemBank) async throws(FakeModemError) -> [NetworkFrontEnd] {
        guard let listen else { return [] }
        let endpoint = try NetworkFrontEnd.Endpoint(url: listen)
        let mode: NetworkFrontEnd.Mode = rfc2217 ? .rfc2217 : endpoint.mode
        let count = bank.modems.count
        if endpoint.port != 0, endpoint.port + count - 1 > 65535 {
            throw .network("--listen: ports \(endpoint.port)…\(endpoint.port + count - 1) for \(count) modems go past 65535")
        }
        var servers: [NetworkFrontEnd] = []
        do throws(FakeModemError) {
            for (index, modem) in bank.modems.enumerated() {
                let port = endpoint.port == 0 ? 0 : endpoint.port + index
                servers.append(try NetworkFrontEnd(modem: modem, host: endpoint.host, port: port, mode: mode))
                try servers[index].start()
            }
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        return servers
    }

    private func applyFlags(_ faults: inout FaultSet) {
        if let noise { faults.noise = LineNoise(rate: noise, seed: noiseSeed) }
        if let lateResults { faults.lateResults = .milliseconds(Int(lateResults * 1000)) }
        if duplicateResults { faults.duplicateResults = true }
        if ignoreDTR { faults.ignoresDTR = true }
        if ignoreHangup { faults.ignoresHangUp = true }
        if let slow { faults.slowResponses = .milliseconds(Int(slow * 1000)) }
        if stuckEcho { faults.stuckEcho = true }
        if let dropFirstLines { faults.droppedFirstLines = dropFirstLines }
        if omitLeadingCRLF { faults.omitsLeadingCRLF = true }
        if let spuriousRings, spuriousRings > 0 { faults.spuriousRingInterval = .milliseconds(Int(spuriousRings * 1000)) }
        if parityBit { faults.parityBit = true }
        if let busyAfterReset { faults.busyAfterReset = .milliseconds(Int(busyAfterReset * 1000)) }
        if let commandGap { faults.minimumCommandGap = .milliseconds(Int(commandGap * 1000)) }
    }

    private func applyCallFlags(_ settings: inout ModemSettings) {
        if pace { settings.pace = true }
        if let ringInterval { settings.ringInterval = .milliseconds(max(1, Int(ringInterval * 1000))) }
        guard let ringAfter else { return }
        var callerID = CallerID(number: .unavailable, name: callerName, form: callerIdFormat.flatMap(CallerIDForm.init(rawValue:)))
        switch caller {
        case nil, "unavailable": callerID.number = .unavailable
        case "private": callerID.number = .private
        case let digits?: callerID.number = .number(digits)
        }
        settings.calls.append(ExternalCall(
            after: .milliseconds(Int(ringAfter * 1000)), caller: callerID,
            hangUpAfter: callerHangsUpAfter.map { .milliseconds(Int($0 * 1000)) }))
    }

    private func linkPaths(count: Int) -> [String] {
        guard let link else { return [] }
        return count == 1 ? [link] : (0..<count).map { "\(link)-\($0)" }
    }

    /// Makes `path` a symlink to `slave`, replacing an old symlink (a stale link of an
    /// earlier run) but nothing else.
    private func makeLink(_ path: String, to slave: String) throws {
        let files = FileManager.default
        if (try? files.destinationOfSymbolicLink(atPath: path)) != nil {
            try files.removeItem(atPath: path)
        } else if files.fileExists(atPath: path) {
            throw CommandError("\(path) exists and is not a symlink; not replacing it")
        }
        try files.createSymbolicLink(atPath: path, withDestinationPath: slave)
    }

    /// Removes the links that still point to this bank's slaves.
    private func removeLinks(_ links: [String], bank: FakeModemBank) {
        for (path, modem) in zip(links, bank.modems)
        where (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == modem.slavePath {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    private func fail(_ message: String) -> Never {
        say("fakemodem: \(message)\n", to: .standardError)
        Self.exit(withError: ExitCode(2))
    }

    private func say(_ text: String, to handle: FileHandle) {
        try? handle.write(contentsOf: Data(text.utf8))
    }
}

/// A failure with a plain message.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
