import Hayes
import Logging
import Serial
import SystemIO

/// Listening lines: `Answer=1` entries whose modem the manager holds and initialises, whose
/// calls it answers as incoming connections (see ``ListenMachine``).
extension ConnectionManager {
    /// One listening line.
    struct Listener {
        let key: String
        let entryName: String
        let phonebookPath: String?
        let settings: RasListenSettings
        let owner: UInt32
        let portAccess: PortAccess
        let passwordReader: PeerCredentials?
        let deviceName: String
        let listed: RasDevice?
        var portPath: String?
        var machine: ListenMachine.State
        var port: (any ModemPort)?
        var lock: UUCPLock?
        var session: ModemSession?
        /// The step running now (open, init, release); the next one waits for it.
        var work: Task<Void, Never>?
        /// Reads what the idle modem says (rings, caller ID) while the line waits.
        var reader: Task<Void, Never>?
        var timer: Task<Void, Never>?
        /// The incoming connection of the call in progress.
        var call: RasConnectionHandle?
        /// The rings counted when the line decided to answer.
        var answeredAfter = 0
        /// The caller-ID command that worked on this modem (not asked again at each init).
        var callerIDCommand: String?

        var record: RasListener {
            RasListener(
                entryName: entryName, phonebookPath: phonebookPath, deviceName: deviceName, state: Self.stateName(machine.phase),
                rings: machine.rings, callsTaken: machine.callsTaken, lastCaller: machine.lastCaller, handle: call,
                error: machine.lastError)
        }

        static func stateName(_ phase: ListenMachine.Phase) -> String {
            switch phase {
            case .idle, .openingPort: "opening"
            case .initializing: "initializing"
            case .waiting: "idle"
            case .ringing: "ringing"
            case .rejecting: "rejecting"
            case .answering: "answering"
            case .inCall: "in-call"
            case .retrying: "retrying"
            case .stopping: "stopping"
            case .stopped: "stopped"
            }
        }
    }

    // MARK: API

    /// Starts listening on the line of entry `parameters.entryName` (`Answer=1`): opens and
    /// locks its port, initialises the modem (`S0=0`, caller ID on) and answers calls as the
    /// entry says. Returns once the port is held; a line already listening is returned as is (if it is
    /// the caller's own, or the caller is root; 5 otherwise).
    /// - Throws: the phonebook errors of a dial (621, 623, …); 87 for an entry that is not a
    ///   listening line; 608 no such device; 602 the port is used by a connection here; 633
    ///   held by another program; 5 not the client's to open.
    public func listen(_ parameters: RasListenParameters) async throws(RasError) -> RasListener {
        try await listen(parameters, owner: ProcessIdentity.userID, requester: nil)
    }

    /// ``listen(_:)`` on behalf of a client: its phonebook and port are checked as for a
    /// dial, and it (or root) owns the line and the calls it answers.
    public func listen(_ parameters: RasListenParameters, requester: PeerCredentials) async throws(RasError) -> RasListener {
        try await listen(parameters, owner: requester.uid, requester: requester)
    }

    private func listen(_ parameters: RasListenParameters, owner: UInt32, requester: PeerCredentials?) async throws(RasError) -> RasListener {
        try PhonebookEntry.validateName(parameters.entryName)
        let located = try configuration.searchPath.locateEntry(
            named: parameters.entryName, phonebookPath: parameters.phonebookPath, requester: requester)
        let settings = try RasListenSettings(entry: located.entry)
        let key = located.entry.name.lowercased()
        if let existing = listeners[key] { return try existingLine(existing, for: owner) }
        let plan = RasDialPlan(entryName: located.entry.name, phonebookPath: located.phonebookPath, settings: settings.line)
        let (path, listed) = await lookUpDevice(for: settings.line)
        let access = try portAccess(path, plan: plan, listed: listed != nil, requester: requester)
        let trusted = try checkPPPChoices(plan, requester: requester)
        guard !shuttingDown else {
            throw RasError.portNotAvailable.with(detail: "the connection manager is shutting down")
        }
        if let existing = listeners[key] { return try existingLine(existing, for: owner) }
        if let path, let holder = portOwners[path] {
            throw RasError.portAlreadyOpen.with(detail: "\(path) is in use by \(holder)")
        }
        let opened: (port: any ModemPort, lock: UUCPLock?, session: ModemSession)
        switch await portOpening(settings.line, access: access, logger: listenerLogger(named: located.entry.name)).open(path) {
        case .success(let result): opened = result
        case .failure(let error): throw error
        }
        // The open may have waited (a network port connects and negotiates): another
        // listen or dial may have taken the line or its port meanwhile.
        if listeners[key] != nil || path.map({ portOwners[$0] != nil }) == true || shuttingDown {
            opened.port.close()
            opened.lock?.release()
            if let existing = listeners[key] { return try existingLine(existing, for: owner) }
            throw RasError.portAlreadyOpen.with(detail: "\(path ?? "the port") was taken while it was being opened")
        }
        var listener = Listener(
            key: key, entryName: located.entry.name, phonebookPath: located.phonebookPath, settings: settings, owner: owner,
            portAccess: access, passwordReader: trusted ? nil : requester,
            deviceName: listed?.deviceName ?? settings.line.device ?? path ?? "", listed: listed, portPath: path,
            machine: ListenMachine.State(
                answerAfterRings: settings.answerAfterRings, policy: settings.policy, recheckEvery: settings.recheck,
                retryPause: settings.retry, waitsForCallerID: settings.callerIDInit != ""))
        listener.port = opened.port
        listener.lock = opened.lock
        listener.session = opened.session
        listeners[key] = listener
        if let path { portOwners[path] = .listener(key) }
        listenerLogger(listener).notice("listening line started", metadata: ["port": "\(path ?? "")"])
        listenerEvent(.start, key: key)
        return listeners[key]?.record ?? listener.record
    }

    /// Stops the listening line of `entryName`: it answers no more calls and releases its
    /// port (after the call in progress, which goes on until it ends). Returns at once with
    /// the line as it is then; it disappears from ``enumListeners()`` once stopped.
    /// - Throws: 6 when no line of that name listens.
    public func stopListening(entryName: String) async throws(RasError) -> RasListener {
        try stopListening(entryName: entryName, caller: ProcessIdentity.userID)
    }

    /// ``stopListening(entryName:)`` on behalf of the user `caller`: 5 unless it is root or
    /// the line's owner.
    public func stopListening(entryName: String, caller: UInt32) throws(RasError) -> RasListener {
        guard let listener = listeners[entryName.lowercased()] else {
            throw RasError.invalidHandle.with(detail: "no line listens for '\(entryName)'")
        }
        guard caller == 0 || caller == listener.owner else {
            throw RasError.accessDenied.with(detail: "the listening line '\(listener.entryName)' belongs to uid \(listener.owner)")
        }
        listenerEvent(.stopRequested, key: listener.key)
        return listeners[listener.key]?.record ?? {
            var record = listener.record
            record.state = "stopped"
            return record
        }()
    }

    /// The listening lines, by entry name.
    public func enumListeners() -> [RasListener] {
        enumListeners(viewer: .everything)
    }

    /// ``enumListeners()`` as `viewer` may see them: another user's lines without their
    /// phonebook path, last caller or error detail (``RasListener/redactedForOthers``).
    public func enumListeners(viewer: RasViewer) -> [RasListener] {
        listeners.values
            .map { viewer.seesDetails(ofOwner: $0.owner) ? $0.record : $0.record.redactedForOthers }
            .sorted { $0.entryName.lowercased() < $1.entryName.lowercased() }
    }

    /// A line that already listens, answered to a listen of `owner`: its record when it is
    /// theirs (or they are root), else 5 — another user's line is not theirs to share.
    private func existingLine(_ listener: Listener, for owner: UInt32) throws(RasError) -> RasListener {
        guard owner == 0 || owner == listener.owner else {
            throw RasError.accessDenied.with(detail: "the line '\(listener.entryName)' listens for uid \(listener.owner)")
        }
        return listener.record
    }

    /// Stops every line (shutdown).
    func stopAllListeners() {
        for key in listeners.keys.sorted() { listenerEvent(.stopRequested, key: key) }
    }

    // MARK: The machine

    func listenerEvent(_ event: ListenMachine.Event, key: String) {
        guard var listener = listeners[key] else { return }
        let (next, effects) = ListenMachine.step(listener.machine, event)
        listener.machine = next
        listeners[key] = listener
        for effect in effects { perform(effect, listener: key) }
        if next.phase == .stopped, let stopped = listeners.removeValue(forKey: key) {
            listener.timer?.cancel()
            listener.reader?.cancel()
            if let path = stopped.portPath, portOwners[path] == .listener(key) { portOwners[path] = nil }
            listenerLogger(stopped).notice("listening line stopped")
            publish(RasListenerEvent(kind: .stopped, entryName: stopped.entryName, deviceName: stopped.deviceName, error: stopped.machine.lastError), owner: stopped.owner)
        }
    }

    private func perform(_ effect: ListenMachine.Effect, listener key: String) {
        guard let listener = listeners[key] else { return }
        switch effect {
        case .openPort:
            if listener.port != nil {
                startListenerWork(key) { await self.listenerEvent(.portOpened, key: key) }
                return
            }
            let settings = listener.settings.line
            let opening = portOpening(settings, access: listener.portAccess, logger: listenerLogger(listener))
            startListenerWork(key) {
                // Looked up again: a modem plugged back in may have a new path behind its name or link.
                let path = await self.devicePath(for: settings)
                switch await opening.open(path) {
                case .success(let opened):
                    await self.listenerPortOpened(key, path: path, port: opened.port, lock: opened.lock, session: opened.session)
                case .failure(let error):
                    await self.listenerEvent(.portFailed(error), key: key)
                }
            }
        case .initializeModem:
            guard let session = listener.session else { return }
            let reader = stopReader(key)
            let settings = listener.settings
            let known = listener.callerIDCommand
            let listed = listener.listed
            let logger = listenerLogger(listener)
            startListenerWork(key) {
                await reader?.value
                let outcome = await Self.initialization(ready: ListenMachine.Event.modemReady, deviceFailed: .deviceFailed, failed: { .modemFailed($0) }) {
                    () async throws(ModemError) in
                    // S0=0 last: whatever the init strings say, this line answers, not the modem.
                    try await session.initialize(initStrings: settings.line.initStrings + ["ATS0=0"], timeout: settings.line.initTimeout)
                    let command = try await Self.enableCallerID(
                        session, settings: settings, known: known, listed: listed, timeout: settings.line.initTimeout, logger: logger)
                    await self.callerIDEnabled(key, command: command)
                }
                if let outcome { await self.listenerEvent(outcome, key: key) }
            }
        case .waitForCalls:
            guard listener.reader == nil, let session = listener.session else { return }
            listeners[key]?.reader = startReader(key, session: session, logger: listenerLogger(listener))
        case .handOverCall(let caller):
            let reader = stopReader(key)
            answerCall(key, caller: caller, after: reader)
        case .startTimer(let pause):
            listeners[key]?.timer?.cancel()
            listeners[key]?.timer = Task {
                do { try await Task.sleep(for: pause) } catch { return }
                self.listenerEvent(.timerFired, key: key)
            }
        case .cancelTimer:
            listeners[key]?.timer?.cancel()
            listeners[key]?.timer = nil
        case .report(let report):
            self.report(report, listener: key)
        case .releasePort:
            let reader = stopReader(key)
            let session = listener.session
            let port = listener.port
            let lock = listener.lock
            let path = listener.portPath
            listeners[key]?.session = nil
            listeners[key]?.port = nil
            listeners[key]?.lock = nil
            startListenerWork(key) {
                await reader?.value
                if let session, let port, port.deviceIsPresent {
                    // On-hook (the modem was idle or ringing) before the close drops DTR.
                    _ = try? await session.send(ATCommand(.hangUp), timeout: Self.releaseTimeout, resynchronising: false)
                }
                port?.close()
                lock?.release()
                await self.listenerPortClosed(key, path: path)
            }
        }
    }

    /// How long a released line waits for the `OK` to `ATH` before it closes the port.
    static let releaseTimeout = Duration.milliseconds(500)

    /// Runs `body` after the line's current step has finished.
    private func startListenerWork(_ key: String, _ body: @escaping @Sendable () async -> Void) {
        let previous = listeners[key]?.work
        listeners[key]?.work = Self.chained(after: previous, body)
    }

    private func listenerPortOpened(_ key: String, path: String?, port: any ModemPort, lock: UUCPLock?, session: ModemSession) {
        guard let listener = listeners[key] else {
            port.close()
            lock?.release()
            return
        }
        if let path, let holder = portOwners[path], holder != .listener(key) {
            port.close()
            lock?.release()
            listenerEvent(.portFailed(RasError.portAlreadyOpen.with(detail: "\(path) is in use by \(holder)")), key: key)
            return
        }
        if let old = listener.portPath, old != path, portOwners[old] == .listener(key) { portOwners[old] = nil }
        if let path { portOwners[path] = .listener(key) }
        listeners[key]?.portPath = path
        listeners[key]?.port = port
        listeners[key]?.lock = lock
        listeners[key]?.session = session
        listenerEvent(.portOpened, key: key)
    }

    private func listenerPortClosed(_ key: String, path: String?) {
        listenerEvent(.portClosed, key: key)
    }

    private func callerIDEnabled(_ key: String, command: String?) {
        listeners[key]?.callerIDCommand = command
    }

    /// Cancels the line's reader; the task is returned so the next step can wait for its end.
    private func stopReader(_ key: String) -> Task<Void, Never>? {
        let reader = listeners[key]?.reader
        reader?.cancel()
        listeners[key]?.reader = nil
        return reader
    }

    /// Reads what the idle modem says: `RING`s, caller ID between them, and the silence after
    /// the last ring of a call nobody answered (``Configuration/ringGap``). Caller ID is
    /// reported once its burst is over (``Configuration/callerIDQuiet`` without another line,
    /// or the next `RING`), so that a decision sees the whole of it, not a `DATE` line alone.
    private func startReader(_ key: String, session: ModemSession, logger: Logger) -> Task<Void, Never> {
        let ringGap = configuration.ringGap
        let quiet = configuration.callerIDQuiet
        return Task {
            var parser = CallerIDParser()
            var ringing = false
            var pending: CallerID?
            while !Task.isCancelled {
                let wait = pending != nil ? quiet : ringing ? ringGap : .seconds(3600)
                let heard: ModemSession.Incoming?
                do throws(ModemError) {
                    heard = try await session.nextIncoming(until: .now + wait)
                } catch .cancelled {
                    return
                } catch {
                    logger.warning("the listening modem's port failed", metadata: ["error": "\(error)"])
                    self.listenerEvent(.deviceFailed, key: key)
                    return
                }
                guard !Task.isCancelled else { return }
                if let caller = pending, heard != nil ? heard == .ring : true {
                    pending = nil
                    self.listenerEvent(.callerID(caller), key: key)
                    if heard == nil { continue }
                }
                switch heard {
                case nil:
                    guard ringing else { continue }
                    ringing = false
                    parser.reset()
                    self.listenerEvent(.ringsStopped, key: key)
                case .ring:
                    ringing = true
                    self.listenerEvent(.ring, key: key)
                case .line(let text):
                    for event in parser.feed(line: text) {
                        switch event {
                        case .updated(let caller):
                            pending = caller
                        case .invalid(let problem):
                            logger.warning("caller ID unusable", metadata: ["problem": "\(problem)"])
                        }
                    }
                }
            }
        }
    }

    /// The incoming connection of a call the line answers: a fresh handle that sends `ATA`
    /// once the reader has stopped, on the line's port.
    private func answerCall(_ key: String, caller: CallerID?, after reader: Task<Void, Never>?) {
        guard let listener = listeners[key], let session = listener.session, let port = listener.port else { return }
        lastHandle += 1
        let handle = RasConnectionHandle(rawValue: lastHandle)
        var settings = listener.settings.line
        settings.phoneNumber = caller?.number ?? ""
        var connection = Connection(
            handle: handle,
            plan: RasDialPlan(entryName: listener.entryName, phonebookPath: listener.phonebookPath, settings: settings),
            dialString: nil, owner: listener.owner, portPath: listener.portPath, portAccess: .trusted,
            passwordReader: listener.passwordReader, deviceName: listener.deviceName,
            machine: DialMachine.State(settings: settings, answersCall: true))
        connection.direction = .incoming
        connection.caller = caller
        connection.listenerKey = key
        connection.port = port
        connection.session = session
        connection.work = Self.chained(after: listener.work) { await reader?.value }
        connections[handle] = connection
        listeners[key]?.call = handle
        publish(RasListenerEvent(
            kind: .answer, entryName: listener.entryName, deviceName: listener.deviceName, rings: listener.answeredAfter,
            callerID: caller, handle: handle), owner: listener.owner)
        connectionLogger(connection).notice("answering", metadata: [
            "caller": "\(caller?.numberText ?? "none")", "rings": "\(listener.answeredAfter)",
        ])
        apply(.start, to: handle)
    }

    /// The answered call's connection put the modem on-hook and gives the port back.
    func callEnded(_ handle: RasConnectionHandle, listener key: String) {
        guard listeners[key]?.call == handle else { return }
        listeners[key]?.call = nil
        listenerEvent(.callEnded, key: key)
    }

    /// An ended answered call stays listed for the line's `IncomingRetentionSeconds`, unless
    /// it is hung up first.
    func startRetention(_ handle: RasConnectionHandle, listener key: String) {
        let retention = listeners[key]?.settings.retention ?? RasListenSettings.defaultRetention
        connections[handle]?.retentionTimer?.cancel()
        connections[handle]?.retentionTimer = Task {
            do { try await Task.sleep(for: retention) } catch { return }
            self.apply(.hangUpRequested, to: handle)
        }
    }

    // MARK: Reports

    private func report(_ report: ListenMachine.Report, listener key: String) {
        guard let listener = listeners[key] else { return }
        let logger = listenerLogger(listener)
        func event(_ kind: RasListenerEvent.Kind, rings: Int? = nil, caller: CallerID? = nil, reason: String? = nil,
                   error: RasError? = nil) {
            publish(RasListenerEvent(
                kind: kind, entryName: listener.entryName, deviceName: listener.deviceName, rings: rings, callerID: caller,
                reason: reason, error: error), owner: listener.owner)
        }
        switch report {
        case .listening:
            logger.notice("waiting for calls")
            event(.listening)
        case .ring(let count):
            logger.info("ring", metadata: ["ring": "\(count)"])
            event(.ring, rings: count, caller: listener.machine.caller)
        case .callerID(let caller):
            logger.notice("caller ID", metadata: [
                "number": "\(caller.numberText)", "name": "\(caller.name ?? caller.nameAbsence?.rawValue ?? "")",
                "form": "\(caller.form.rawValue)",
            ])
            event(.callerID, rings: listener.machine.rings, caller: caller)
        case .answer(let rings):
            // Published with the new connection's handle when the call is handed over.
            listeners[key]?.answeredAfter = rings
        case .reject(let decision):
            let reason: String
            switch decision {
            case .reject(because: let pattern?): reason = "RejectCallers matches '\(pattern)'"
            case .reject(because: nil): reason = "no AllowCallers pattern matches"
            case .answer: reason = "answered"
            }
            logger.notice("caller rejected", metadata: ["number": "\(listener.machine.caller?.numberText ?? "none")", "reason": "\(reason)"])
            event(.reject, rings: listener.machine.rings, caller: listener.machine.caller, reason: reason)
        case .answerFailed(let error):
            logger.notice("the answer did not connect", metadata: ["error": "\(error.code)"])
        case .modemProblem(let error):
            logger.warning("listening modem problem; retrying", metadata: [
                "error": "\(error.code)", "detail": "\(error.detail ?? error.message)",
                "retry-ms": "\(listener.settings.retry.milliseconds)",
            ])
            event(.modemProblem, reason: error.detail ?? error.message, error: error)
        }
    }

    /// Tells every watcher of `event` of a line of `owner`, cut to what each may see.
    private func publish(_ event: RasListenerEvent, owner: UInt32) {
        for subscriber in watchSubscribers.values {
            let seen = subscriber.viewer.seesDetails(ofOwner: owner) ? event : event.redactedForOthers
            subscriber.continuation.yield(.listener(seen))
        }
    }

    private func listenerLogger(_ listener: Listener) -> Logger {
        listenerLogger(named: listener.entryName)
    }

    private func listenerLogger(named entryName: String) -> Logger {
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(entryName)"
        return logger
    }

    // MARK: Caller ID

    /// Turns caller ID on: the entry's `CallerIDInit`, else the command that worked before,
    /// else the vendor table's candidates for the modem's identity (``CallerIDEnable``), the
    /// first the modem accepts. Returns the command in use (`nil`: none). A modem that has no
    /// caller ID still answers calls.
    static func enableCallerID(
        _ session: ModemSession, settings: RasListenSettings, known: String?, listed: RasDevice?, timeout: Duration,
        logger: Logger
    ) async throws(ModemError) -> String? {
        if settings.callerIDInit == "" { return nil }
        var candidates: [String]
        if let command = settings.callerIDInit {
            candidates = [command]
        } else if let known {
            candidates = [known]
        } else {
            candidates = CallerIDEnable.candidates(
                manufacturer: listed?.manufacturer, model: listed?.model,
                capabilities: (listed?.capabilities ?? "").split(separator: ",").map(String.init)
            ).map(\.command)
        }
        for text in candidates {
            let command: ATCommand
            do throws(ATCommandError) {
                command = try ATCommand(line: text)
            } catch {
                continue
            }
            do throws(ModemError) {
                let response = try await session.send(command, timeout: timeout)
                if response.final == .ok {
                    logger.info("caller ID on", metadata: ["command": "\(text)"])
                    return text
                }
            } catch .port(let error) {
                throw .port(error)
            } catch .cancelled {
                throw .cancelled
            } catch {
                continue
            }
        }
        logger.notice("caller ID could not be turned on: calls are answered without it", metadata: ["tried": "\(candidates)"])
        return nil
    }
}
