import Foundation
import RAS
import RASService
import Serial

/// The forms of `rasdial`, each against the daemon at ``socketPath``.
struct Actions: Sendable {
    let output: Output
    let socketPath: String

    /// How long a hang-up may take before `rasdial` gives up waiting for ERROR_INVALID_HANDLE.
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
    /// SIGTERM or SIGHUP while dialing hang the dial up the same way.
    func dial(_ parameters: RasDialParameters) async throws(RasError) {
        try await dial(parameters, on: try await Daemon.connect(socketPath, startIfNeeded: true))
    }

    /// Dials through `client` (see ``dial(_:)``).
    func dial(_ parameters: RasDialParameters, on client: RASClient) async throws(RasError) {
        let signals = TerminationSignals()
        let name = parameters.entryName
        output.text("Connecting to \(name)...")
        let dial = try await client.dial(parameters)
        let handle = dial.handle
        // A signal hangs the dial up; the notifications then end without Connected.
        let signalStream = signals.stream
        let interrupter = Task { () -> Bool in
            for await _ in signalStream {
                try? await client.hangUp(handle)
                return true
            }
            return false
        }
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
        interrupter.cancel()
        let interrupted = await interrupter.value
        signals.stop()
        if let last, last.state == .connected, last.error == nil, !interrupted {
            let rate = base.connectRate.map { ", \($0) bps" } ?? ""
            output.text("Successfully connected to \(name) (handle \(handle)\(rate)).")
            return
        }
        let failure = interrupted
            ? RasError.userDisconnection.with(detail: "interrupted; connection \(handle) was hung up")
            : last?.error ?? RasError.userDisconnection.with(detail: "connection \(handle) was hung up while dialing")
        // The handle of a failed dial stays until it is hung up: do that, and wait for 6.
        do throws(RasError) {
            try await client.hangUp(handle)
        } catch where error == .invalidHandle {
            // Already gone (hung up by someone else).
        }
        try await waitUntilGone(handle, client: client)
        throw failure
    }

    /// `rasdial --disconnect`: hangs up the entry's connections, the handle, or every
    /// connection, and waits until each answers ERROR_INVALID_HANDLE (6).
    func disconnect(entry: String?, handle: RasConnectionHandle?) async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            if let entry { throw noConnection(named: entry, detail: "rasmand is not running at \(socketPath)") }
            if handle != nil { throw RasError.invalidHandle.with(detail: "rasmand is not running at \(socketPath)") }
            output.text("No connections")
            return
        }
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
                } catch where error == .invalidHandle {
                    // Gone meanwhile.
                } catch {
                    output.report(error.with(detail: "connection \(connection.handle) (\(connection.entryName)): \(error.detail ?? error.message)"))
                    firstError = firstError ?? error
                }
            }
            try await finishHangUps(targets, client: client)
            if let firstError { throw firstError }
            return
        }
        try await finishHangUps(targets, client: client)
    }

    /// `rasdial --status`: the status of a handle, or of every connection of an entry.
    func status(entry: String?, handle: RasConnectionHandle?) async throws(RasError) {
        let handle = handle ?? entry.flatMap(Self.handle(in:))
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            if handle == nil, let entry { throw noConnection(named: entry, detail: "rasmand is not running at \(socketPath)") }
            throw RasError.invalidHandle.with(detail: "rasmand is not running at \(socketPath)")
        }
        if let handle {
            output.status(try await client.connectStatus(handle))
            return
        }
        let name = entry ?? ""
        let matching = try await client.enumConnections().filter { PhonebookEntry.namesMatch($0.entryName, name) }
        var shown = 0
        for connection in matching {
            do throws(RasError) {
                let status = try await client.connectStatus(connection.handle)
                if shown > 0 { output.text("") }
                output.status(status)
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
            listing.entries.forEach(output.object)
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

    /// `rasdial --devices`: the devices the daemon knows (`RasEnumDevices`), or `No devices`
    /// when no daemon runs (only the daemon discovers modems; listing never starts one).
    func devices() async throws(RasError) {
        guard let client = try await Daemon.connectIfRunning(socketPath) else {
            output.note("rasmand is not running at \(socketPath); it is what discovers the modems")
            output.devices([])
            return
        }
        output.devices(try await client.enumDevices())
    }

    /// `rasdial --watch`: connection events until SIGINT, SIGTERM or SIGHUP.
    func watch() async throws(RasError) {
        let client = try await Daemon.connect(socketPath, startIfNeeded: true)
        let signals = TerminationSignals()
        let events = try await client.connectionEvents()
        output.text("Watching connections on \(socketPath) (Ctrl-C to stop)...")
        output.object(EventRecord(event: "watching", connection: nil, socket: socketPath))
        let printer = Task { () -> Bool in
            for await event in events {
                let connection = event.connection
                output.text([event.kind.rawValue, connection.handle.description, connection.entryName,
                             connection.deviceType.rawValue, connection.deviceName,
                             connection.state.description + (connection.error.map { " error \($0.code)" } ?? "")]
                    .joined(separator: " "))
                output.object(EventRecord(event: event.kind.rawValue, connection: connection, socket: nil))
            }
            return Task.isCancelled
        }
        let signalStream = signals.stream
        let stopper = Task {
            for await _ in signalStream { break }
            printer.cancel()
        }
        let stoppedBySignal = await printer.value
        stopper.cancel()
        signals.stop()
        if !stoppedBySignal {
            throw RasError.connectionManagerUnavailable.with(detail: "rasmand at \(socketPath) went away")
        }
    }

    // MARK: Helpers

    /// Polls the status until it answers ERROR_INVALID_HANDLE (6): the RAS way to know a
    /// hang-up is complete.
    func waitUntilGone(_ handle: RasConnectionHandle, client: RASClient) async throws(RasError) {
        let deadline = ContinuousClock.now + Self.hangUpTimeout
        while true {
            do throws(RasError) {
                _ = try await client.connectStatus(handle)
            } catch where error == .invalidHandle {
                return
            }
            if ContinuousClock.now >= deadline {
                throw RasError.hangupFailed.with(detail: "connection \(handle) is still there after \(Self.hangUpTimeout)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func finishHangUps(_ targets: [(RasConnectionHandle, String)], client: RASClient) async throws(RasError) {
        for (handle, name) in targets {
            output.text("Hanging up \(name) (\(handle))...")
        }
        for (handle, name) in targets {
            try await waitUntilGone(handle, client: client)
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
