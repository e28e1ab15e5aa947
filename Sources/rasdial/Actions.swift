import ArgumentParser
import Foundation
import RAS
import RASService
import Synchronization
import SystemIO

/// The forms of `rasdial`, each against the daemon at ``socketPath``.
struct Actions: Sendable {
    let output: Output
    let socketPath: String

    /// Whether a second SIGINT, SIGTERM or SIGHUP exits at once (off in the demo, which
    /// must still stop the processes it started).
    var secondSignalExits = true

    /// How long a hang-up may take before `rasdial` gives up waiting for ERROR_INVALID_HANDLE
    /// (after a signal, ``SignalGuard/grace`` bounds the wait instead).
    static let hangUpTimeout = Duration.seconds(60)

    // MARK: Forms

    /// `rasdial`: every connection, or `No connections` (also when no daemon runs).
    func list() async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            output.connections([])
            return
        }
        try await list(on: client)
    }

    /// Lists the connections through `client`.
    func list(on client: RASClient) async throws(RasError) {
        output.connections(try await client.enumConnections())
    }

    /// `rasdial ENTRY` / `rasdial --device PATH --phone N`: dials, prints every state, and
    /// returns once Connected, leaving the connection up. A failed dial is hung up (its
    /// handle must be, RAS-REFERENCE §6) and waited for before its error is thrown. SIGINT,
    /// SIGTERM or SIGHUP while dialing hang the dial up the same way, but wait at most
    /// ``SignalGuard/grace`` for it: then 631 says the hang-up continues in rasmand. A second
    /// signal exits at once.
    func dial(_ parameters: RasDialParameters) async throws(RasError) {
        try await dial(parameters, on: try await Daemon.connect(socketPath, startIfNeeded: true))
    }

    /// Dials through `client` (see ``dial(_:)``).
    func dial(_ parameters: RasDialParameters, on client: RASClient) async throws(RasError) {
        let progress = DialProgress(entryName: parameters.entryName)
        let signals = signalGuard { progress.leftToRasmand }
        defer { signals.stop() }
        try await signals.run(
            onSignal: { _ in
                // The notifications then end without Connected (rasmand ends the dial).
                if let handle = progress.interrupt() { Self.requestHangUp(handle, on: client) }
            },
            expired: { signal in
                .failure(RasError.userDisconnection.with(
                    detail: "interrupted by \(TerminationSignals.name(signal)); rasdial stopped waiting after \(SignalGuard.grace): \(progress.leftToRasmand)"))
            },
            { () async throws(RasError) in try await dialSteps(parameters, on: client, progress: progress) })
    }

    private func dialSteps(_ parameters: RasDialParameters, on client: RASClient, progress: DialProgress) async throws(RasError) {
        let name = parameters.entryName
        output.text("Connecting to \(name)...")
        let dial = try await client.dial(parameters)
        let handle = dial.handle
        // A signal came while rasmand had not answered: its hang-up is requested now.
        if progress.started(handle) { Self.requestHangUp(handle, on: client) }
        var base = (try? await client.connectStatus(handle))
            ?? RasConnStatus(handle: handle, entryName: name, state: .openPort, deviceName: "", phoneNumber: "")
        var last: RasDialNotification?
        for await notification in dial.notifications {
            last = notification
            base.state = notification.state
            base.error = notification.error
            if notification.state == .connected, notification.error == nil,
               let status = try? await client.connectStatus(handle), status.state == .connected {
                base = status
            }
            output.state(base)
            if notification.state == .connected || notification.state == .disconnected { break }
        }
        let interrupted = progress.isInterrupted
        if let last, last.state == .connected, last.error == nil, !interrupted {
            let rate = base.connectRate.map { ", \($0) bps" } ?? ""
            output.text("Successfully connected to \(name) (handle \(handle)\(rate)).")
            return
        }
        let failure = interrupted
            ? RasError.userDisconnection.with(detail: "interrupted; connection \(handle) was hung up")
            : last?.error ?? RasError.userDisconnection.with(detail: "connection \(handle) was hung up while dialing")
        // The handle of a failed dial stays until it is hung up: do that, and wait for 6.
        try await hangUpAndWait(handle, client: client)
        throw failure
    }

    /// Requests the hang-up of `handle` without waiting for rasmand's answer.
    private static func requestHangUp(_ handle: RasConnectionHandle, on client: RASClient) {
        Task { try? await client.hangUp(handle) }
    }

    /// `rasdial --disconnect`: hangs up the entry's connections, the handle, or every
    /// connection, and waits until each answers ERROR_INVALID_HANDLE (6). After SIGINT,
    /// SIGTERM or SIGHUP it waits at most ``SignalGuard/grace`` more: then 631 says which
    /// hang-ups continue in rasmand. A second signal exits at once.
    func disconnect(entry: String?, handle: RasConnectionHandle?) async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            if let entry { throw noConnection(named: entry, detail: "rasmand is not running at \(socketPath)") }
            if handle != nil { throw RasError.invalidHandle.with(detail: "rasmand is not running at \(socketPath)") }
            output.text("No connections")
            return
        }
        let what = handle.map { "connection \($0)" } ?? entry.map { "the connections named \($0)" } ?? "every connection"
        let progress = HangUpProgress(requested: what)
        let signals = signalGuard { progress.leftToRasmand }
        defer { signals.stop() }
        try await signals.run(
            expired: { signal in
                .failure(RasError.userDisconnection.with(
                    detail: "interrupted by \(TerminationSignals.name(signal)); rasdial stopped waiting after \(SignalGuard.grace): \(progress.leftToRasmand)"))
            },
            { () async throws(RasError) in try await disconnectSteps(entry: entry, handle: handle, client: client, progress: progress) })
    }

    private func disconnectSteps(entry: String?, handle: RasConnectionHandle?, client: RASClient,
                                 progress: HangUpProgress) async throws(RasError) {
        let connections = try await client.enumConnections()
        var targets: [(RasConnectionHandle, String)]
        if let handle {
            try await client.hangUp(handle)
            targets = [(handle, connections.first { $0.handle == handle }?.entryName ?? "")]
        } else if let entry {
            let names = Dictionary(connections.map { ($0.handle, $0.entryName) }, uniquingKeysWith: { first, _ in first })
            targets = try await client.hangUp(entryName: entry).map { ($0, names[$0] ?? entry) }
        } else {
            guard !connections.isEmpty else {
                output.text("No connections")
                return
            }
            // RAS-REFERENCE §7 [ours]: no name hangs up the only connection, or all of them.
            targets = []
            var firstError: RasError?
            for connection in connections {
                do throws(RasError) {
                    try await client.hangUp(connection.handle)
                    targets.append((connection.handle, connection.entryName))
                    progress.hangingUp(connection.handle)
                } catch where error == .invalidHandle {
                    // Gone meanwhile.
                } catch {
                    output.report(error.with(detail: "connection \(connection.handle) (\(connection.entryName)): \(error.detail ?? error.message)"))
                    firstError = firstError ?? error
                }
            }
            try await finishHangUps(targets, client: client, progress: progress)
            if let firstError { throw firstError }
            return
        }
        try await finishHangUps(targets, client: client, progress: progress)
    }

    /// `rasdial --status` (or `--stats`): the status (statistics) of a handle, or of every
    /// connection of an entry.
    func status(entry: String?, handle: RasConnectionHandle?, statistics: Bool = false) async throws(RasError) {
        let handle = handle ?? entry.flatMap(Self.handle(in:))
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            if handle == nil, let entry { throw noConnection(named: entry, detail: "rasmand is not running at \(socketPath)") }
            throw RasError.invalidHandle.with(detail: "rasmand is not running at \(socketPath)")
        }
        func show(_ handle: RasConnectionHandle) async throws(RasError) {
            let status = try await client.connectStatus(handle)
            if statistics {
                output.statistics(try await client.statistics(handle), entryName: status.entryName)
            } else {
                output.status(status)
            }
        }
        if let handle {
            try await show(handle)
            return
        }
        let name = entry ?? ""
        let matching = try await client.enumConnections().filter { PhonebookEntry.namesMatch($0.entryName, name) }
        var shown = 0
        for connection in matching {
            do throws(RasError) {
                if shown > 0 && !output.json { output.text("") }
                try await show(connection.handle)
                shown += 1
            } catch where error == .invalidHandle {
                // Removed between the listing and the status.
            }
        }
        guard shown > 0 else { throw noConnection(named: name, detail: nil) }
    }

    /// `rasdial --entries`: the phonebook entries, read here like RasEnumEntries does. Entries
    /// that cannot be read are reported — on stderr, or as error objects with `--json` — and
    /// the good ones are listed all the same. - Returns: whether nothing had to be reported.
    func entries(phonebookPath: String?) throws(RasError) -> Bool {
        let listing = try PhonebookSearchPath().entryListing(phonebookPath: phonebookPath)
        if output.json {
            // The listing as one array (valid JSON also when empty); each problem after it
            // as an error object, as errors are everywhere.
            output.object(listing.entries)
            listing.problems.map(ProblemRecord.init).forEach(output.object)
        } else {
            if !listing.entries.isEmpty {
                output.table([["ENTRY", "SCOPE", "PHONEBOOK"]] + listing.entries.map { [$0.name, $0.scope.rawValue, $0.phonebookPath] })
            } else if listing.problems.isEmpty {
                output.text("No entries")
            }
            listing.problems.forEach { output.report($0.error) }
        }
        return listing.problems.isEmpty
    }

    /// `rasdial --devices`: the devices the daemon knows (`RasEnumDevices`). Only the daemon
    /// discovers modems, so one is started when none runs, as for a dial; its answer waits
    /// for the probes in progress.
    func devices() async throws(RasError) {
        let client = try await Daemon.connect(socketPath, startIfNeeded: true)
        output.devices(try await client.enumDevices())
    }

    /// `rasdial --watch`: connection events until SIGINT, SIGTERM or SIGHUP, which end it
    /// at once, even while rasmand has not answered the `watch` request. On a terminal (and
    /// without `--json`) a live table (``LiveWatch``); otherwise one line per event.
    func watch() async throws(RasError) {
        let client = try await Daemon.connect(socketPath, startIfNeeded: true)
        let signals = signalGuard { nil }
        defer { signals.stop() }
        try await signals.run(grace: .zero, expired: { _ in .success(()) }) { () async throws(RasError) in
            let events = try await client.watch()
            if !output.json, TerminalInfo.isTerminal(1) {
                await LiveWatch(client: client, output: output, socketPath: socketPath).run(events)
                throw RasError.connectionManagerUnavailable.with(detail: "rasmand at \(socketPath) went away")
            }
            output.text("Watching connections on \(socketPath) (Ctrl-C to stop)...")
            output.object(EventRecord(event: "watching", connection: nil, socket: socketPath))
            for await event in events {
                switch event {
                case .connection(let event):
                    let connection = event.connection
                    var words = [event.kind.rawValue, connection.handle.description, connection.entryName,
                                 connection.deviceType.rawValue, connection.deviceName,
                                 connection.state.description + (connection.error.map { " error \($0.code)" } ?? "")]
                    if connection.direction == .incoming {
                        words += ["incoming", connection.callerID.map(Output.caller) ?? "unknown"]
                    }
                    output.text(words.joined(separator: " "))
                    output.object(EventRecord(event: event.kind.rawValue, connection: connection, socket: nil))
                case .listener(let event):
                    output.lineEvent(event)
                }
            }
            throw RasError.connectionManagerUnavailable.with(detail: "rasmand at \(socketPath) went away")
        }
    }

    /// `rasdial ENTRY --listen`: asks rasmand (started if none runs) to answer calls on the
    /// entry's line, and prints the line.
    func listen(_ parameters: RasListenParameters) async throws(RasError) {
        let client = try await Daemon.connect(socketPath, startIfNeeded: true)
        let line = try await client.listen(parameters)
        output.text("Listening on \(line.entryName) (\(line.deviceName)): \(line.stateText).")
        output.object(line)
    }

    /// `rasdial ENTRY --listen --stop`: stops the line and waits until it has released its
    /// port (a call in progress goes on, and the line goes once it ends).
    func stopListening(_ entry: String) async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            throw RasError.invalidHandle.with(detail: "no line listens for '\(entry)': rasmand is not running at \(socketPath)")
        }
        var line = try await client.stopListening(entryName: entry)
        if line.state == "stopping", line.handle == nil {
            let deadline = ContinuousClock.now + Self.hangUpTimeout
            while ContinuousClock.now < deadline,
                  let current = try await client.enumListeners().first(where: { PhonebookEntry.namesMatch($0.entryName, entry) }) {
                line = current
                try? await Task.sleep(for: .milliseconds(20))
            }
            line.state = "stopped"
        }
        output.text(line.state == "stopped"
            ? "Stopped listening on \(line.entryName)."
            : "Stopping \(line.entryName) after its call (\(line.stateText)).")
        output.object(line)
    }

    /// `rasdial --listeners`: the listening lines, or `No listening lines`.
    func listeners() async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            output.listeners([])
            return
        }
        output.listeners(try await client.enumListeners())
    }

    // MARK: Helpers

    /// A ``SignalGuard`` whose second signal reports 631 with what `left` says is left to
    /// rasmand, and exits 1 at once (unless ``secondSignalExits`` is off).
    private func signalGuard(leaving left: @escaping @Sendable () -> String?) -> SignalGuard {
        guard secondSignalExits else { return SignalGuard(onSecondSignal: nil) }
        let output = self.output
        return SignalGuard { signal in
            output.report(RasError.userDisconnection.with(
                detail: "\(TerminationSignals.name(signal)) again: exiting at once" + (left().map { "; \($0)" } ?? "")))
            RasDialCommand.exit(withError: ExitCode(1))
        }
    }

    /// Hangs `handle` up (already gone is fine) and waits until its status answers
    /// ERROR_INVALID_HANDLE (6) — at most ``hangUpTimeout`` in all, whatever rasmand does.
    func hangUpAndWait(_ handle: RasConnectionHandle, client: RASClient) async throws(RasError) {
        try await Race.within(Self.hangUpTimeout, timedOut: stillThere(handle)) { () async throws(RasError) in
            do throws(RasError) {
                try await client.hangUp(handle)
            } catch where error == .invalidHandle {
                // Already gone (hung up by someone else).
            }
            try await pollUntilGone(handle, client: client)
        }
    }

    /// Polls the status until it answers ERROR_INVALID_HANDLE (6), the RAS way to know a
    /// hang-up is complete — at most ``hangUpTimeout``, whatever rasmand does.
    func waitUntilGone(_ handle: RasConnectionHandle, client: RASClient) async throws(RasError) {
        try await Race.within(Self.hangUpTimeout, timedOut: stillThere(handle)) { () async throws(RasError) in
            try await pollUntilGone(handle, client: client)
        }
    }

    private func pollUntilGone(_ handle: RasConnectionHandle, client: RASClient) async throws(RasError) {
        try await client.waitUntilDeleted(handle, timeout: Self.hangUpTimeout)
    }

    private func stillThere(_ handle: RasConnectionHandle) -> RasError {
        RasError.hangupFailed.with(detail: "connection \(handle) is still there after \(Self.hangUpTimeout)")
    }

    /// Waits until each of `targets` is gone, printing each; `progress` learns which remain.
    func finishHangUps(_ targets: [(RasConnectionHandle, String)], client: RASClient,
                       progress: HangUpProgress? = nil) async throws(RasError) {
        for (handle, name) in targets {
            progress?.hangingUp(handle)
            output.text("Hanging up \(name) (\(handle))...")
        }
        for (handle, name) in targets {
            try await waitUntilGone(handle, client: client)
            progress?.gone(handle)
            output.text("Disconnected \(name) (\(handle)).")
            output.object(HangUpRecord(handle: handle, entryName: name))
        }
    }

    /// A name with no connection is 6, like a handle with none (README, "Names and handles").
    private func noConnection(named name: String, detail: String?) -> RasError {
        let error = ConnectionManager.noConnection(named: name)
        return error.with(detail: (error.detail ?? "") + (detail.map { "; \($0)" } ?? ""))
    }

    /// A handle written as `0x…` (a plain number may be an entry's name).
    static func handle(in text: String) -> RasConnectionHandle? {
        text.lowercased().hasPrefix("0x") ? RasConnectionHandle(string: text) : nil
    }
}

/// A dial's handle once rasmand answered, and whether a signal interrupted it: whichever of
/// the two comes second requests the hang-up.
final class DialProgress: Sendable {
    let entryName: String
    private let state = Mutex<(handle: RasConnectionHandle?, interrupted: Bool)>((nil, false))

    init(entryName: String) {
        self.entryName = entryName
    }

    /// Records the handle; `true` when a signal came first (the caller requests the hang-up).
    func started(_ handle: RasConnectionHandle) -> Bool {
        state.withLock { state in
            state.handle = handle
            return state.interrupted
        }
    }

    /// Records a signal; the handle to hang up, when rasmand answered the dial already.
    func interrupt() -> RasConnectionHandle? {
        state.withLock { state in
            state.interrupted = true
            return state.handle
        }
    }

    var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// What rasmand is left doing when rasdial leaves now.
    var leftToRasmand: String {
        guard let handle = state.withLock({ $0.handle }) else {
            return "rasmand has not answered the dial of \(entryName); a connection it still makes is left to it (rasdial \(entryName) --disconnect hangs it up)"
        }
        return "the hang-up of connection \(handle) continues in rasmand"
    }
}

/// The hang-ups a `--disconnect` waits for.
final class HangUpProgress: Sendable {
    private let requested: String
    private let state = Mutex<(known: Bool, remaining: [RasConnectionHandle])>((false, []))

    /// `requested`: what the command line asked to hang up, e.g. `connection 0x00000001`.
    init(requested: String) {
        self.requested = requested
    }

    func hangingUp(_ handle: RasConnectionHandle) {
        state.withLock { state in
            state.known = true
            if !state.remaining.contains(handle) { state.remaining.append(handle) }
        }
    }

    func gone(_ handle: RasConnectionHandle) {
        state.withLock { $0.remaining.removeAll { $0 == handle } }
    }

    /// What rasmand is left doing when rasdial leaves now.
    var leftToRasmand: String {
        let (known, remaining) = state.withLock { ($0.known, $0.remaining) }
        guard known else {
            return "rasmand has not answered the hang-up of \(requested); if the request reached it, the hang-up continues in rasmand"
        }
        let handles = remaining.map(\.description).joined(separator: ", ")
        if remaining.isEmpty { return "rasmand has hung up \(requested)" }
        return remaining.count == 1
            ? "the hang-up of connection \(handles) continues in rasmand"
            : "the hang-ups of connections \(handles) continue in rasmand"
    }
}
