import FakeModem
import Foundation
import Hayes
import RAS
import Synchronization
import Testing
import TestSupport

/// A bench for listening-line tests: a ``ModemLab`` whose modem rings fast (every 300 ms),
/// a phonebook with the listening entry `Line`, and the manager's `watch` stream recorded
/// from before the line starts. Calls come from outside the bank on cue
/// (``ring(_:after:hangUpAfter:)``).
final class ListenBench: Sendable {
    let lab: ModemLab
    let folder: URL
    let phonebook: String
    private let recorder: EventRecorder

    static let ringInterval = Duration.milliseconds(300)

    /// A line answering on modem 0 with the entry's `lines` (plus `Answer=1` and `Port=`).
    init(_ lines: [String] = [], modem: ModemSettings? = nil, port: String? = nil, ringGap: Duration = .seconds(1)) async throws {
        var settings = modem ?? ModemLab.modem()
        settings.ringInterval = Self.ringInterval
        lab = try await ModemLab(modem: settings, ringGap: ringGap)
        folder = try TestSupport.temporaryDirectory("listen")
        phonebook = folder.appendingPathComponent("listen.pbk").path
        let text = (["[Line]", "Answer=1", "Port=\(port ?? lab.port())"] + lines).joined(separator: "\n") + "\n"
        try text.write(toFile: phonebook, atomically: true, encoding: .utf8)
        recorder = EventRecorder(try await lab.manager.watch())
    }

    var manager: ConnectionManager { lab.manager }
    var modem: EmulatedModem { lab.bank.modems[0] }

    /// Starts listening on `Line`.
    @discardableResult
    func listen() async throws -> RasListener {
        try await manager.listen(RasListenParameters(entryName: "Line", phonebookPath: phonebook))
    }

    /// Starts listening and waits for the line's `listening` event.
    func listenAndWait() async throws {
        try await listen()
        #expect(await waitFor { $0.listenerKind == .listening } != nil, "the line says it listens")
    }

    /// A call from outside to modem 0, ringing `after` from now.
    func ring(
        _ caller: FakeModem.CallerID = FakeModem.CallerID(number: .number("5551234"), name: "JOHN DOE"),
        after: Duration = .zero, hangUpAfter: Duration? = nil, rings: Int = 10
    ) {
        modem.call(ExternalCall(after: after, caller: caller, hangUpAfter: hangUpAfter, rings: rings))
    }

    /// The watch events so far.
    var events: [RasWatchEvent] { recorder.events }

    /// The listening line's events so far.
    var lineEvents: [RasListenerEvent] {
        events.compactMap { if case .listener(let event) = $0 { event } else { nil } }
    }

    /// Waits for the first event from index `from` on that `matches`; returns it.
    func waitFor(from: Int = 0, timeout: Duration = .seconds(10), _ matches: @Sendable (RasWatchEvent) -> Bool) async -> RasWatchEvent? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let seen = events
            if seen.count > from, let event = seen[from...].first(where: matches) { return event }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Waits until the line's state (as `enumListeners` lists it) is `state`; returns how long that took.
    func waitForLine(_ state: String, timeout: Duration = .seconds(10)) async -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if await manager.enumListeners().first?.state == state { return start.duration(to: .now) }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }

    /// The handle of the next `answer` event from index `from`.
    func answered(from: Int = 0) async -> RasConnectionHandle? {
        guard case .listener(let event)? = await waitFor(from: from, { $0.listenerKind == .answer }) else { return nil }
        return event.handle
    }

    /// Everything the computer sent to modem 0.
    var sent: String { PhonebookKeyWireTests.sent(lab) }

    /// Stops the line, hangs everything up and checks nothing leaked.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) async {
        recorder.stop()
        await lab.finish(sourceLocation: sourceLocation)
        #expect(await manager.enumListeners().isEmpty, "no line left listening", sourceLocation: sourceLocation)
        TestSupport.remove(folder)
    }
}

/// Collects a watch stream in the background.
final class EventRecorder: Sendable {
    private final class Box: Sendable {
        let events = Mutex<[RasWatchEvent]>([])
    }

    private let box = Box()
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<RasWatchEvent>) {
        let box = self.box
        task = Task {
            for await event in stream { box.events.withLock { $0.append(event) } }
        }
    }

    var events: [RasWatchEvent] { box.events.withLock { $0 } }

    func stop() { task.cancel() }
}

extension RasWatchEvent {
    /// The kind of a listening line's event; `nil` for a connection event.
    var listenerKind: RasListenerEvent.Kind? {
        if case .listener(let event) = self { event.kind } else { nil }
    }

    /// The connection event's kind and record; `nil` for a line's event.
    var connection: (RasConnectionEvent.Kind, RasConnection)? {
        if case .connection(let event) = self { (event.kind, event.connection) } else { nil }
    }
}
