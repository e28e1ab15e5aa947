import Foundation

/// Something the emulator wants done outside itself. The driver (or a test) collects
/// these with ``ModemEmulator/takeEffects()`` after every call.
public enum ModemEffect: Sendable, Equatable {
    /// Bytes toward the computer.
    case output([UInt8])
    /// A transcript event, e.g. `off-hook`, `dial 5551234`, `on-hook ATH`.
    case event(String)
    /// The number was dialed: the exchange must answer with ``ModemEmulator/routeCall(_:at:)``.
    case placeCall(String)
    /// This modem answered an incoming call (the caller stops waiting for an answer).
    case answered
    /// This modem, the answerer, finished its handshake: the caller connects too.
    case connected
    /// Data toward the modem at the other end of the line.
    case lineData([UInt8])
    /// This side ended its call, gave up calling, or refused a ringing call.
    case hungUp
    /// Close the pty master: the modem is unplugged.
    case unplug
}

/// A Hayes-compatible modem, as pure state: fed bytes from the computer, DTR changes and
/// events from the exchange, each with the time it happened, it produces bytes toward the
/// computer and ``ModemEffect``s. It never reads a clock or touches a device, so tests can
/// drive it with made-up times; ``nextDeadline`` tells the driver when to call
/// ``advance(to:)``.
///
/// The behaviour follows HAYES-REFERENCE.md: V.250 command lines (`AT`/`at` prefix, `A/`,
/// several commands per line, the first failing one aborts the rest with `ERROR`, bodies
/// over 40 characters are refused), `E`/`V`/`Q` framing with S3/S4, result levels `X0`–`X4`,
/// S-registers, `&C`/`&D`, dialing with modifiers, `+++` with the S12 guard time, and the
/// faults of ``FaultSet``.
public struct ModemEmulator: Sendable {
    /// What the modem is doing.
    public enum Mode: String, Sendable, Equatable {
        /// On-hook, taking commands.
        case command
        /// Off-hook and taking commands (after `ATH1` or `ATD…;`).
        case offHookCommand = "off-hook-command"
        /// Dialing or waiting for the far end.
        case dialing
        /// Answering (`ATA` or auto-answer), waiting for the handshake.
        case answering
        /// In a call, passing data.
        case online
        /// In a call, taking commands (after `+++` or a DTR drop with `&D1`).
        case onlineCommand = "online-command"
        /// The modem was unplugged; it does nothing any more.
        case unplugged
    }

    /// Bytes arriving this soon after a dial or answer command are ignored rather than
    /// aborting it (a trailing LF after the CR, say), as real modems do.
    public static let abortGrace: Duration = .milliseconds(125)

    /// The settings this modem was made with (its faults as ``changeFaults(_:at:)`` last set them).
    public private(set) var settings: ModemSettings
    private let factory: Profile
    private var stored: Profile
    private var profile: Profile
    private var phase: Phase = .command
    private var reader: LineReader = .idle
    private var lastLine = ""
    private var lastNumber = ""
    private var selectedRegister = 0
    private var ringing: Ringing?
    private var dtrRaised = true
    private var dtrActsAt: ContinuousClock.Instant?
    private var scheduled: [ScheduledOutput] = []
    private var delayedLine: DelayedLine?
    private var heldInput: [UInt8] = []
    private var droppedLines = 0
    /// When the last final result was sent (for ``FaultSet/minimumCommandGap``).
    private var lastFinalResultAt: ContinuousClock.Instant?
    /// Until when the modem ignores input after a reset (``FaultSet/busyAfterReset``).
    private var busyUntil: ContinuousClock.Instant?
    /// Whether the bytes being dropped as lost input have been reported yet.
    private var losingInput = false
    private var spuriousRingAt: ContinuousClock.Instant?
    private var random: SplitMix64
    private var effects: [ModemEffect] = []
    /// Calls from outside the bank still to come, earliest first.
    private var externalCalls: [(at: ContinuousClock.Instant, call: ExternalCall)]
    private let poweredOnAt: ContinuousClock.Instant
    private let wallClockAtPowerOn: Date?
    /// Online data for the computer waiting for the line (``ModemSettings/pace``).
    private var pacedOutput: [UInt8] = []
    private var pacedAt: ContinuousClock.Instant?
    /// When the paced line has carried everything sent so far.
    private var lineFreeAt: ContinuousClock.Instant?

    /// A modem powered up at `now` with its factory profile. `wallClock` is the date at
    /// `now`, for the date and time in caller ID (without one they read 01-01 00:00).
    public init(settings: ModemSettings, at now: ContinuousClock.Instant, wallClock: Date? = nil) {
        self.settings = settings
        factory = Profile(settings: settings)
        stored = factory
        profile = factory
        random = SplitMix64(seed: settings.faults.noise?.seed ?? 1)
        spuriousRingAt = settings.faults.spuriousRingInterval.map { now + $0 }
        externalCalls = settings.calls.map { (at: now + $0.after, call: $0) }.sorted { $0.at < $1.at }
        poweredOnAt = now
        wallClockAtPowerOn = wallClock
    }

    /// Checks a ``ModemSettings/profile`` string; returns what is wrong, or `nil`.
    public static func problem(withProfile profile: String) -> String? { Profile.problem(with: profile) }

    // MARK: State seen from outside

    /// What the modem is doing now.
    public var mode: Mode {
        switch phase {
        case .command: .command
        case .offHookCommand: .offHookCommand
        case .dialing: .dialing
        case .answering: .answering
        case .online: .online
        case .onlineCommand: .onlineCommand
        case .unplugged: .unplugged
        }
    }

    /// Whether the modem holds the line (dialing, answering, in a call, or `ATH1`).
    public var isOffHook: Bool {
        switch phase {
        case .command, .unplugged: false
        default: true
        }
    }

    /// Whether an incoming call is ringing.
    public var isRinging: Bool { ringing != nil }

    /// Whether the modem sees DTR raised.
    public var isDTRRaised: Bool { dtrRaised }

    /// The DCD line as the modem would drive it: with `&C1` (the default) on while a call
    /// has carrier (online or online-command, until the carrier is lost), with `&C0` always
    /// on; off once unplugged. A pty cannot carry it; ``NetworkFrontEnd`` sends it over
    /// RFC 2217.
    public var isCarrierDetected: Bool {
        switch phase {
        case .unplugged: false
        case .online(let call), .onlineCommand(let call): profile.dcdMode == 0 || !call.carrierLost
        default: profile.dcdMode == 0
        }
    }

    /// The current S-registers.
    public var registers: SRegisters { profile.registers }

    /// Whether the exchange may offer this modem a call (on-hook, idle, not ringing).
    public var canAcceptIncomingCall: Bool {
        if case .command = phase { return ringing == nil }
        return false
    }

    /// How the modem presents caller ID now (`+VCID`, `#CID`, `%CCID`, `+CLIP`).
    public var callerIDMode: CallerIDMode { profile.callerID }

    /// Whether a DTR drop would matter now, so the driver should watch DTR closely.
    public var wantsFrequentDTRSampling: Bool {
        isOffHook || ringing != nil || profile.dtrMode == 3 || !dtrRaised
    }

    /// Hands over the effects produced since the last call.
    public mutating func takeEffects() -> [ModemEffect] {
        defer { effects.removeAll(keepingCapacity: true) }
        return effects
    }

    // MARK: Inputs

    /// Bytes from the computer that arrived at `now`.
    public mutating func receive(_ bytes: [UInt8], at now: ContinuousClock.Instant) {
        advance(to: now)
        consume(bytes[...], at: now)
        advance(to: now)
    }

    /// DTR as the computer set it (a pty signals a drop by speed B0).
    public mutating func dtrChanged(raised: Bool, at now: ContinuousClock.Instant) {
        advance(to: now)
        guard raised != dtrRaised else { return }
        dtrRaised = raised
        if raised {
            event("dtr-raise")
            dtrActsAt = nil
        } else {
            event("dtr-drop")
            dtrActsAt = now + profile.registers.dtrDebounce
        }
        advance(to: now)
    }

    /// A program opened the serial port: DTR counts as raised.
    public mutating func slaveOpened(at now: ContinuousClock.Instant) {
        advance(to: now)
        event("slave-open")
        dtrChanged(raised: true, at: now)
    }

    /// The program closed the serial port. With `HUPCL` that drops DTR; without it the
    /// modem carries on as if nothing happened, as a real one would.
    public mutating func slaveClosed(hangUpOnClose: Bool, at now: ContinuousClock.Instant) {
        advance(to: now)
        event("slave-closed hupcl=\(hangUpOnClose ? "yes" : "no")")
        if hangUpOnClose { dtrChanged(raised: false, at: now) }
    }

    /// Lets everything scheduled up to `now` happen.
    public mutating func advance(to now: ContinuousClock.Instant) {
        // Every firing clears or moves its own deadline; the bound only guards against a
        // mistake turning into a hang.
        var budget = 100_000
        while budget > 0, let (time, timer) = earliestTimer(), time <= now {
            fire(timer, at: time, now: now)
            budget -= 1
        }
    }

    /// When ``advance(to:)`` next has something to do; `nil` if nothing is scheduled.
    public var nextDeadline: ContinuousClock.Instant? { earliestTimer()?.0 }

    /// Replaces the modem's faults from `now` on, as if it had been made with them: a test
    /// injects a fault into one phase of a call (noise once it is dialing, say). The noise
    /// generator restarts from the new seed; a spurious-ring timer starts from `now`.
    public mutating func changeFaults(_ faults: FaultSet, at now: ContinuousClock.Instant) {
        advance(to: now)
        settings.faults = faults
        random = SplitMix64(seed: faults.noise?.seed ?? 1)
        spuriousRingAt = faults.spuriousRingInterval.map { now + $0 }
    }

    /// The line drops now, as `drop-after` does at its time: the carrier is lost and
    /// `NO CARRIER` follows after S10; while dialing or answering, the call fails with
    /// `NO CARRIER` at once. Nothing happens without a call.
    public mutating func dropCarrier(at now: ContinuousClock.Instant) {
        advance(to: now)
        switch phase {
        case .dialing, .answering:
            // Lost while dialing or training: the call fails, as a real modem's does.
            event("carrier-lost")
            callFailed(.noCarrier, reason: "carrier-lost", at: now)
        default:
            loseCarrier(reason: "carrier-lost", at: now)
        }
    }

    /// Unplugs the modem now: it reports nothing more and asks for its pty to be closed.
    public mutating func unplug(at now: ContinuousClock.Instant) {
        advance(to: now)
        unplugNow()
    }

    private mutating func unplugNow() {
        if case .unplugged = phase { return }
        effects.append(.hungUp)
        phase = .unplugged
        ringing = nil
        scheduled = []
        delayedLine = nil
        heldInput = []
        spuriousRingAt = nil
        dtrActsAt = nil
        externalCalls = []
        dropPacedOutput()
        event("unplug")
        effects.append(.unplug)
    }

    /// Schedules a call from outside the bank: its first `RING` comes `call.after` from
    /// `now` (not from power-on, as for the scenario's `calls:`).
    public mutating func scheduleCall(_ call: ExternalCall, at now: ContinuousClock.Instant) {
        if case .unplugged = phase { return }
        externalCalls.append((at: now + call.after, call: call))
        externalCalls.sort { $0.at < $1.at }
    }

    // MARK: Inputs from the exchange

    /// The exchange's answer to a ``ModemEffect/placeCall(_:)``.
    public mutating func routeCall(_ route: CallRoute, at now: ContinuousClock.Instant) {
        advance(to: now)
        guard case .dialing(var dialing) = phase, case .routing = dialing.stage else { return }
        switch route {
        case .scripted(let outcome):
            switch outcome.kind {
            case .silence:
                dialing.stage = .silence
            case .connect(let spec):
                dialing.stage = .progress(Progress(outcome, final: .connect(spec), from: now, registers: registers))
            case .result(let result):
                dialing.stage = .progress(Progress(outcome, final: .result(result), from: now, registers: registers))
            case .ring:
                // Rings are resolved by the exchange; a stray one finds no carrier.
                dialing.stage = .waitingForCarrier(giveUpAt: now + registers.carrierWait)
            }
        case .ringing(let spec):
            dialing.stage = .ringingPeer(spec, noAnswerAt: now + registers.carrierWait)
        }
        phase = .dialing(dialing)
        advance(to: now)
    }

    /// Another modem calls this one. Returns `false` (the caller hears busy) unless the
    /// modem is on-hook, idle and not already ringing.
    public mutating func incomingCall(_ call: IncomingCall, at now: ContinuousClock.Instant) -> Bool {
        advance(to: now)
        guard canAcceptIncomingCall else { return false }
        ringing = Ringing(call: call, nextRingAt: now + call.firstRingAfter, count: 0)
        event(call.caller.map { "incoming \($0.numberText)" } ?? "incoming")
        advance(to: now)
        return true
    }

    /// The modem this one is calling answered (its handshake has begun).
    public mutating func remoteAnswered(at now: ContinuousClock.Instant) {
        advance(to: now)
        if case .dialing(var dialing) = phase, case .ringingPeer(let spec, _) = dialing.stage {
            dialing.stage = .ringingPeer(spec, noAnswerAt: nil)
            phase = .dialing(dialing)
        }
        advance(to: now)
    }

    /// The modem this one is calling finished its handshake: the call is up.
    public mutating func remoteConnected(at now: ContinuousClock.Instant) {
        advance(to: now)
        if case .dialing(let dialing) = phase, case .ringingPeer(let spec, _) = dialing.stage {
            goOnline(spec, at: now)
        }
        advance(to: now)
    }

    /// Data from the other end of the line.
    public mutating func remoteData(_ bytes: [UInt8], at now: ContinuousClock.Instant) {
        advance(to: now)
        guard case .online(let call) = phase, !call.carrierLost else { return }
        deliver(bytes, call: call, at: now)
        if call.spec.data == .peerEcho { effects.append(.lineData(bytes)) }
    }

    /// The other end hung up, gave up calling, or its line dropped.
    public mutating func remoteHungUp(at now: ContinuousClock.Instant) {
        advance(to: now)
        if ringing != nil {
            ringing = nil
            event("ring-stop")
        }
        switch phase {
        case .dialing(let dialing):
            if case .ringingPeer = dialing.stage { callFailed(.noCarrier, reason: "remote", at: now) }
        case .answering(let answering) where answering.call != nil:
            callFailed(.noCarrier, reason: "remote", at: now)
        case .online, .onlineCommand:
            loseCarrier(reason: "remote", at: now)
        default:
            break
        }
        advance(to: now)
    }

    // MARK: Bytes from the computer

    private mutating func consume(_ bytes: ArraySlice<UInt8>, at now: ContinuousClock.Instant) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if delayedLine != nil {
                heldInput.append(contentsOf: bytes[index...])
                return
            }
            switch phase {
            case .unplugged:
                return
            case .online(var call):
                let chunk = Array(bytes[index...])
                for byte in chunk {
                    call.escape.observe(byte, at: now, escapeCharacter: registers[2], guardTime: registers.guardTime)
                }
                phase = .online(call)
                sendToLine(chunk, call: call, at: now)
                return
            case .dialing(let dialing):
                if now >= dialing.graceUntil { callFailed(.noCarrier, reason: "abort", at: now) }
                index += 1
            case .answering(let answering):
                if now >= answering.graceUntil { callFailed(.noCarrier, reason: "abort", at: now) }
                index += 1
            case .command, .offHookCommand, .onlineCommand:
                if let reason = inputLoss(at: now) {
                    if !losingInput { event("fault lost-input \(reason)") }
                    losingInput = true
                } else {
                    losingInput = false
                    commandByte(bytes[index], at: now)
                }
                index += 1
            }
        }
    }

    private mutating func sendToLine(_ bytes: [UInt8], call: Call, at now: ContinuousClock.Instant) {
        guard !call.carrierLost else { return }
        switch call.spec.data {
        case .loopback: deliver(bytes, call: call, at: now)
        case .silent: break
        case .peer, .peerEcho: effects.append(.lineData(bytes))
        }
    }

    /// Why a command byte arriving now is lost, if it is.
    private func inputLoss(at now: ContinuousClock.Instant) -> String? {
        if settings.faults.hung { return "hung" }
        if let busyUntil, now < busyUntil { return "busy-after-reset" }
        if let gap = settings.faults.minimumCommandGap, let last = lastFinalResultAt, now < last + gap {
            return "too-soon"
        }
        return nil
    }

    private var echoes: Bool { profile.echo || settings.faults.stuckEcho }

    private mutating func commandByte(_ byte: UInt8, at now: ContinuousClock.Instant) {
        if echoes { sendCommandBytes([byte]) }
        let c = byte & 0x7F
        switch reader {
        case .idle:
            if c == ascii("A") || c == ascii("a") { reader = .sawA(upper: c == ascii("A")) }
        case .sawA(let upper):
            if c == (upper ? ascii("T") : ascii("t")) {
                reader = .body(prefix: upper ? "AT" : "at", text: "")
            } else if c == ascii("/") {
                reader = .idle
                lineCompleted(body: lastLine, typed: "A/", at: now)
            } else if c == ascii("A") || c == ascii("a") {
                reader = .sawA(upper: c == ascii("A"))
            } else {
                reader = .idle
            }
        case .body(let prefix, var text):
            if Int(c) == registers[3] {
                reader = .idle
                lastLine = text
                lineCompleted(body: text, typed: prefix + text, at: now)
            } else if Int(c) == registers[5] {
                if !text.isEmpty { text.removeLast() }
                reader = .body(prefix: prefix, text: text)
            } else if c >= 0x20, c < 0x7F, text.utf8.count < 255 {
                text.append(Character(Unicode.Scalar(c)))
                reader = .body(prefix: prefix, text: text)
            }
        }
    }

    private mutating func lineCompleted(body: String, typed: String, at now: ContinuousClock.Instant) {
        if droppedLines < settings.faults.droppedFirstLines {
            droppedLines += 1
            event("fault drop-line \(typed)")
            return
        }
        if let delay = settings.faults.slowResponses, delay > .zero {
            delayedLine = DelayedLine(body: body, typed: typed, at: now + delay)
            return
        }
        execute(line: body, typed: typed, at: now)
    }

    // MARK: Command lines

    private enum Step {
        /// Go on with the next command.
        case next
        /// The command failed: `ERROR`, the rest of the line is ignored.
        case failed
        /// The command ended the line and reported (or will report) its own result.
        case finished
    }

    private mutating func execute(line body: String, typed: String, at now: ContinuousClock.Instant) {
        event("command \(typed)")
        let text = body.filter { $0 != " " }.uppercased()
        guard text.count <= 40 else {
            commandResult(.error, at: now)
            return
        }
        var parser = CommandParser(text)
        while let item = parser.next() {
            guard case .command(let command) = item else {
                commandResult(.error, at: now)
                return
            }
            switch execute(command, at: now) {
            case .next: continue
            case .failed:
                commandResult(.error, at: now)
                return
            case .finished:
                return
            }
        }
        commandResult(.ok, at: now)
    }

    private mutating func execute(_ command: ATCommand, at now: ContinuousClock.Instant) -> Step {
        switch command {
        case .basic("A", let n):
            return n == nil || n == 0 ? answer(at: now) : .failed
        case .basic("H", let n):
            return hook(n ?? 0, at: now)
        case .basic("O", let n):
            guard (n ?? 0) <= 1 else { return .failed }
            resumeOnline(at: now)
            return .finished
        case .basic("Z", let n):
            guard (n ?? 0) <= 1 else { return .failed }
            reset(hangUpReason: "reset", at: now)
            commandResult(.ok, at: now)
            if let busy = settings.faults.busyAfterReset, busy > .zero { busyUntil = now + busy }
            return .finished
        case .basic("I", let n):
            guard let text = settings.identity.information[n ?? 0] else { return .failed }
            if !text.isEmpty { info(text) }
            return .next
        case .ampersand("F", let n):
            guard (n ?? 0) == 0 else { return .failed }
            profile = factory
            return .next
        case .ampersand("W", let n):
            guard (n ?? 0) <= 1 else { return .failed }
            stored = profile
            return .next
        case .ampersand("V", let n):
            guard (n ?? 0) == 0 else { return .failed }
            info(profileListing)
            return .next
        case .queryRegister(let n):
            let register = n ?? selectedRegister
            guard SRegisters.isKnown(register) else { return .failed }
            selectedRegister = register
            let digits = String(registers[register])
            info(String(repeating: "0", count: max(0, 3 - digits.count)) + digits)
            return .next
        case .selectRegister(let register):
            guard SRegisters.isKnown(register) else { return .failed }
            selectedRegister = register
            return .next
        case .setRegister(let n, let value):
            let register = n ?? selectedRegister
            guard profile.registers.set(register, to: value) else { return .failed }
            selectedRegister = register
            return .next
        case .dial(let text):
            return dial(text, at: now)
        case .extended(let name, let form):
            return extended(name, form)
        default:
            return profile.apply(command) ? .next : .failed
        }
    }

    private mutating func extended(_ name: String, _ form: ExtendedForm) -> Step {
        let identity = settings.identity
        let texts = ["GCAP": identity.capabilities, "GMI": identity.manufacturer, "GMM": identity.model,
                     "GMR": identity.revision, "GSN": identity.serialNumber]
        if let text = texts[name] {
            switch form {
            case .action:
                info(text)
                return .next
            case .test:
                return .next
            case .query, .set:
                return .failed
            }
        }
        if Profile.callerIDCommands[name] != nil { return callerIDCommand(name, form) }
        guard name == "FCLASS" else { return .failed }
        switch form {
        case .query:
            info(String(profile.faxClass))
            return .next
        case .test:
            info("0")
            return .next
        case .set:
            return profile.apply(.extended(name, form)) ? .next : .failed
        case .action:
            return .failed
        }
    }

    /// `+VCID`, `#CID`, `%CCID`, `+CLIP` in their set, query and test forms.
    private mutating func callerIDCommand(_ name: String, _ form: ExtendedForm) -> Step {
        let values = Profile.callerIDCommands[name] ?? [:]
        let mode = profile.callerID
        switch form {
        case .set:
            return profile.apply(.extended(name, form)) ? .next : .failed
        case .query:
            let value = values.first { $0.value == mode }?.key ?? "0"
            info(name == "CLIP" ? "+CLIP: \(value),1" : value)
            return .next
        case .test:
            let range = "(0-\(values.keys.max() ?? "1"))"
            info(name == "CLIP" ? "+CLIP: \(range)" : range)
            return .next
        case .action:
            return .failed
        }
    }

    /// The `&V` listing: the active profile's settings and S-registers.
    private var profileListing: String {
        let p = profile
        let flags = "E\(p.echo ? 1 : 0) L\(p.speakerVolume) M\(p.speakerMode) Q\(p.quiet ? 1 : 0) V\(p.verbose ? 1 : 0) "
            + "W\(p.connectMessages) X\(p.resultLevel) &C\(p.dcdMode) &D\(p.dtrMode)"
        let numbers = SRegisters.factoryDefaults.keys.sorted()
        let registers = numbers.map { number -> String in
            let value = String(p.registers[number])
            let padded = String(repeating: "0", count: max(0, 3 - value.count)) + value
            return (number < 10 ? "S0\(number)" : "S\(number)") + ":" + padded
        }
        let caller = Profile.callerIDCommands["VCID"]?.first { $0.value == p.callerID }?.key ?? "0"
        return "ACTIVE PROFILE:\n\(flags) +FCLASS=\(p.faxClass) +VCID=\(caller)\n"
            + registers.prefix(7).joined(separator: " ") + "\n" + registers.dropFirst(7).joined(separator: " ")
    }

    private mutating func hook(_ n: Int, at now: ContinuousClock.Instant) -> Step {
        switch (n, phase) {
        case (0, .command):
            return .next
        case (0, .offHookCommand), (0, .onlineCommand):
            if settings.faults.ignoresHangUp {
                event("fault ignore-hangup")
            } else {
                goOnHook(reason: "ATH")
            }
            return .next
        case (1, .command):
            refuseRingingCall()
            phase = .offHookCommand(number: "")
            event("off-hook")
            return .next
        case (1, .offHookCommand):
            return .next
        default:
            return .failed
        }
    }

    private mutating func answer(at now: ContinuousClock.Instant) -> Step {
        guard case .command = phase else { return .failed }
        startAnswering(automatically: false, at: now)
        return .finished
    }

    private mutating func startAnswering(automatically: Bool, at now: ContinuousClock.Instant) {
        event("off-hook")
        event(automatically ? "answer auto" : "answer")
        if let incoming = ringing {
            ringing = nil
            phase = .answering(Answering(graceUntil: now + ModemEmulator.abortGrace, call: incoming.call,
                                         connectAt: now + incoming.call.handshake, giveUpAt: nil))
            effects.append(.answered)
        } else {
            phase = .answering(Answering(graceUntil: now + ModemEmulator.abortGrace, call: nil,
                                         connectAt: nil, giveUpAt: now + registers.carrierWait))
        }
    }

    private mutating func resumeOnline(at now: ContinuousClock.Instant) {
        guard case .onlineCommand(var call) = phase else {
            commandResult(.noCarrier, at: now)
            return
        }
        if call.carrierLost {
            phase = .command
            event("on-hook \(call.lossReason)")
            commandResult(.noCarrier, at: now)
            return
        }
        call.escape = EscapeDetector(startingAt: now)
        phase = .online(call)
        event("online")
        emitResult(call.reported, kind: .final, at: now)
    }

    private mutating func dial(_ text: String, at now: ContinuousClock.Instant) -> Step {
        var number: String
        switch phase {
        case .command: number = ""
        case .offHookCommand(let dialed): number = dialed
        default: return .failed
        }
        guard let dialString = DialString(text, registers: registers) else { return .failed }
        number += dialString.redial ? lastNumber + dialString.digits : dialString.digits
        if case .command = phase {
            refuseRingingCall()
            event("off-hook")
        }
        lastNumber = number
        event("dial \(number)")
        phase = .dialing(Dialing(number: number, graceUntil: now + ModemEmulator.abortGrace,
                                 stage: .digits(until: now + dialString.duration, returnsToCommand: dialString.returnsToCommand)))
        return .finished
    }

    private mutating func reset(hangUpReason: String, at now: ContinuousClock.Instant) {
        if isOffHook { goOnHook(reason: hangUpReason) }
        profile = stored
        reader = .idle
        event("reset")
    }

    private mutating func refuseRingingCall() {
        guard ringing != nil else { return }
        ringing = nil
        event("ring-stop")
        effects.append(.hungUp)
    }

    // MARK: Calls

    private mutating func goOnHook(reason: String) {
        phase = .command
        dropPacedOutput()
        event("on-hook \(reason)")
        effects.append(.hungUp)
    }

    private mutating func callFailed(_ result: ResultCode, reason: String? = nil, at now: ContinuousClock.Instant) {
        goOnHook(reason: reason ?? result.hangUpReason)
        emitResult(result.adjusted(forResultLevel: profile.resultLevel), kind: .call, at: now)
    }

    private mutating func goOnline(_ spec: ConnectSpec, callerHangsUpAfter: Duration? = nil, at now: ContinuousClock.Instant) {
        let shown = spec.result.adjusted(forResultLevel: profile.resultLevel)
        var call = Call(spec: spec, reported: shown, escape: EscapeDetector(startingAt: now),
                        carrierDropAt: spec.carrierDropAfter.map { now + $0 },
                        unplugAt: spec.unplugAfter.map { now + $0 })
        call.callerHangUpAt = callerHangsUpAfter.map { now + $0 }
        if settings.pace, let rate = ResultCode.connectRate(of: spec.result.text), rate >= 10 {
            call.bytesPerSecond = rate / 10
        }
        phase = .online(call)
        event("connect \(shown.text)")
        emitResult(shown, kind: .final, at: now)
        deliver(spec.banner, call: call, at: now)
    }

    /// Online data toward the computer: at once, or at the line's pace.
    private mutating func deliver(_ bytes: [UInt8], call: Call, at now: ContinuousClock.Instant) {
        guard !bytes.isEmpty else { return }
        guard call.bytesPerSecond != nil else {
            output(bytes)
            return
        }
        pacedOutput += bytes
        if pacedAt == nil { pacedAt = max(now, lineFreeAt ?? now) }
    }

    /// Sends the next 10 ms worth of paced data (at least a byte).
    private mutating func sendPaced(at time: ContinuousClock.Instant) {
        let rate: Int
        switch phase {
        case .online(let call), .onlineCommand(let call):
            rate = call.bytesPerSecond ?? 0
        default:
            rate = 0
        }
        guard rate > 0 else {
            dropPacedOutput()
            return
        }
        let count = min(pacedOutput.count, max(1, rate / 100))
        output(Array(pacedOutput.prefix(count)))
        pacedOutput.removeFirst(count)
        let free = time + .nanoseconds(Int64(count) * 1_000_000_000 / Int64(rate))
        lineFreeAt = free
        pacedAt = pacedOutput.isEmpty ? nil : free
    }

    private mutating func dropPacedOutput() {
        pacedOutput = []
        pacedAt = nil
        lineFreeAt = nil
    }

    private mutating func loseCarrier(reason: String, at now: ContinuousClock.Instant) {
        let call: Call
        switch phase {
        case .online(let c), .onlineCommand(let c): call = c
        default: return
        }
        guard !call.carrierLost else { return }
        var lost = call
        lost.carrierLost = true
        lost.lossReason = reason
        lost.carrierDropAt = nil
        lost.callerHangUpAt = nil
        lost.hangUpAt = registers.carrierLossDelay.map { now + $0 }
        if case .online = phase { phase = .online(lost) } else { phase = .onlineCommand(lost) }
        event("carrier-lost")
        // A dropped line is lost for the far end too.
        if reason == "carrier-lost" { effects.append(.hungUp) }
    }

    private mutating func applyDTRDrop(at now: ContinuousClock.Instant) {
        if settings.faults.ignoresDTR {
            event("fault ignore-dtr")
            return
        }
        switch profile.dtrMode {
        case 0:
            return
        case 1:
            switch phase {
            case .online(let call):
                phase = .onlineCommand(call)
                reader = .idle
                event("escape dtr")
                commandResult(.ok, at: now)
            case .dialing, .answering:
                callFailed(.noCarrier, reason: "dtr", at: now)
            default:
                return
            }
        case 2:
            if isOffHook { callFailed(.noCarrier, reason: "dtr", at: now) }
        default:
            if isOffHook { callFailed(.noCarrier, reason: "dtr", at: now) }
            reset(hangUpReason: "dtr", at: now)
            delayedLine = nil
            heldInput = []
        }
    }

    // MARK: Timers

    private enum TimerKind {
        case scheduledOutput, delayedLine, dtr, spuriousRing, ring, callerID, externalCall, paced, phase
    }

    private func earliestTimer() -> (ContinuousClock.Instant, TimerKind)? {
        var best: (ContinuousClock.Instant, TimerKind)?
        func consider(_ time: ContinuousClock.Instant?, _ kind: TimerKind) {
            guard let time else { return }
            if best.map({ time < $0.0 }) ?? true { best = (time, kind) }
        }
        consider(scheduled.first?.at, .scheduledOutput)
        consider(delayedLine?.at, .delayedLine)
        consider(dtrActsAt, .dtr)
        if case .command = phase, ringing == nil { consider(spuriousRingAt, .spuriousRing) }
        consider(ringing?.nextRingAt, .ring)
        consider(ringing?.callerIDAt, .callerID)
        if case .unplugged = phase {} else { consider(externalCalls.first?.at, .externalCall) }
        consider(pacedAt, .paced)
        consider(phaseDeadline, .phase)
        return best
    }

    private var phaseDeadline: ContinuousClock.Instant? {
        switch phase {
        case .dialing(let dialing):
            switch dialing.stage {
            case .digits(let until, _): return until
            case .routing, .silence: return nil
            case .progress(let progress): return min(progress.nextAt, progress.giveUpAt)
            case .waitingForCarrier(let giveUpAt): return giveUpAt
            case .ringingPeer(_, let noAnswerAt): return noAnswerAt
            }
        case .answering(let answering):
            return [answering.connectAt, answering.giveUpAt].compactMap { $0 }.min()
        case .online(let call):
            return [call.escape.acceptAt, call.carrierDropAt, call.callerHangUpAt, call.hangUpAt, call.unplugAt].compactMap { $0 }.min()
        case .onlineCommand(let call):
            return [call.carrierDropAt, call.callerHangUpAt, call.hangUpAt, call.unplugAt].compactMap { $0 }.min()
        case .command, .offHookCommand, .unplugged:
            return nil
        }
    }

    private mutating func fire(_ timer: TimerKind, at time: ContinuousClock.Instant, now: ContinuousClock.Instant) {
        switch timer {
        case .scheduledOutput:
            let item = scheduled.removeFirst()
            event(item.event)
            output(item.bytes)
        case .delayedLine:
            guard let line = delayedLine else { return }
            delayedLine = nil
            execute(line: line.body, typed: line.typed, at: time)
            let held = heldInput
            heldInput = []
            consume(held[...], at: time)
        case .dtr:
            dtrActsAt = nil
            applyDTRDrop(at: time)
        case .spuriousRing:
            spuriousRingAt = settings.faults.spuriousRingInterval.map { now + $0 }
            event("fault spurious-ring")
            emitResult(.ring, kind: .unsolicited, at: time)
        case .ring:
            ring(at: time)
        case .callerID:
            ringing?.callerIDAt = nil
            if let caller = ringing?.call.caller { reportCallerID(caller, at: time) }
        case .externalCall:
            let next = externalCalls.removeFirst()
            offerExternalCall(next.call, at: time)
        case .paced:
            sendPaced(at: time)
        case .phase:
            firePhase(at: time)
        }
    }

    private mutating func ring(at time: ContinuousClock.Instant) {
        guard var incoming = ringing else { return }
        if let most = incoming.call.maximumRings, incoming.count >= most {
            // Nobody answered: the caller gives up.
            ringing = nil
            event("ring-stop")
            effects.append(.hungUp)
            return
        }
        incoming.count += 1
        incoming.nextRingAt = time + settings.ringInterval
        let form = incoming.call.caller?.reportedForm(mode: profile.callerID)
        if incoming.count == 1, let form, form != .clip {
            // The caller ID burst comes in the silence after the first ring.
            incoming.callerIDAt = time + settings.ringInterval * 2 / 5
        }
        ringing = incoming
        profile.registers.set(1, to: min(incoming.count, 255))
        event("ring \(incoming.count)")
        emitResult(.ring, kind: .unsolicited, at: time)
        if form == .clip, let caller = incoming.call.caller { reportCallerID(caller, at: time) }
        let rings = registers[0]
        if rings > 0, incoming.count >= rings {
            startAnswering(automatically: true, at: time)
        }
    }

    /// A call from outside the bank arrives: it rings if the modem is free, else the caller
    /// hears busy and goes away.
    private mutating func offerExternalCall(_ call: ExternalCall, at time: ContinuousClock.Instant) {
        guard canAcceptIncomingCall else {
            event("incoming-busy \(call.caller.numberText)")
            return
        }
        ringing = Ringing(call: call.incoming, nextRingAt: time, count: 0)
        event("incoming \(call.caller.numberText)")
    }

    /// Reports who calls, in the form the call and the modem's caller ID mode give.
    private mutating func reportCallerID(_ caller: CallerID, at time: ContinuousClock.Instant) {
        guard let form = caller.reportedForm(mode: profile.callerID) else { return }
        event("caller-id \(form.rawValue) \(caller.numberText)")
        let lines: [String]
        switch form {
        case .formatted: lines = CallerIDReport.formattedLines(caller, at: callerIDTime(at: time))
        case .clip: lines = [CallerIDReport.clipLine(caller)]
        case .sdmf, .mdmf: lines = ["MESG = " + CallerIDReport.hex(CallerIDReport.message(caller, form: form, at: callerIDTime(at: time)))]
        case .none: lines = []
        }
        for line in lines {
            sendCommandBytes(profile.verbose ? lineEnd + Array(line.utf8) + lineEnd : Array(line.utf8) + lineEnd)
        }
    }

    /// The local date and time at `time`, for caller ID.
    private func callerIDTime(at time: ContinuousClock.Instant) -> CallerIDTime {
        guard let start = wallClockAtPowerOn else { return CallerIDTime(month: 1, day: 1, hour: 0, minute: 0) }
        let (seconds, attoseconds) = (time - poweredOnAt).components
        let date = start.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
        let parts = Calendar.current.dateComponents([.month, .day, .hour, .minute], from: date)
        return CallerIDTime(month: parts.month ?? 1, day: parts.day ?? 1, hour: parts.hour ?? 0, minute: parts.minute ?? 0)
    }

    private mutating func firePhase(at time: ContinuousClock.Instant) {
        switch phase {
        case .dialing(var dialing):
            switch dialing.stage {
            case .digits(_, let returnsToCommand):
                if returnsToCommand {
                    phase = .offHookCommand(number: dialing.number)
                    commandResult(.ok, at: time)
                } else if dialing.number.isEmpty {
                    dialing.stage = .waitingForCarrier(giveUpAt: time + registers.carrierWait)
                    phase = .dialing(dialing)
                } else {
                    dialing.stage = .routing
                    phase = .dialing(dialing)
                    effects.append(.placeCall(dialing.number))
                }
            case .progress(var progress):
                if progress.giveUpAt <= progress.nextAt {
                    callFailed(.noCarrier, at: time)
                } else if !progress.lines.isEmpty {
                    let line = progress.lines.removeFirst()
                    dialing.stage = .progress(progress)
                    phase = .dialing(dialing)
                    emitProgress(line.line)
                } else {
                    switch progress.final {
                    case .connect(let spec): goOnline(spec, at: time)
                    case .result(let result): callFailed(result, at: time)
                    }
                }
            case .waitingForCarrier:
                callFailed(.noCarrier, at: time)
            case .ringingPeer:
                callFailed(.noAnswer, at: time)
            case .routing, .silence:
                return
            }
        case .answering(let answering):
            if let call = answering.call, answering.connectAt != nil {
                goOnline(call.connect, callerHangsUpAfter: call.hangUpAfter, at: time)
                effects.append(.connected)
            } else {
                callFailed(.noCarrier, at: time)
            }
        case .online(let call), .onlineCommand(let call):
            if let hangUpAt = call.hangUpAt, hangUpAt <= time {
                phase = .command
                dropPacedOutput()
                event("on-hook \(call.lossReason)")
                emitResult(ResultCode.noCarrier, kind: .call, at: time)
            } else if let callerHangUpAt = call.callerHangUpAt, callerHangUpAt <= time {
                event("caller-hang-up")
                loseCarrier(reason: "remote", at: time)
            } else if let dropAt = call.carrierDropAt, dropAt <= time {
                loseCarrier(reason: "carrier-lost", at: time)
            } else if let unplugAt = call.unplugAt, unplugAt <= time {
                unplugNow()
            } else if case .online = phase, call.escape.acceptAt != nil {
                phase = .onlineCommand(call)
                reader = .idle
                event("escape")
                if settings.faults.hung { event("fault hung") } else { commandResult(.ok, at: time) }
            }
        case .command, .offHookCommand, .unplugged:
            return
        }
    }

    // MARK: Output

    private mutating func event(_ text: String) { effects.append(.event(text)) }

    /// Queues bytes for the computer, joined to bytes queued just before them.
    private mutating func output(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if case .output(let previous)? = effects.last {
            effects[effects.count - 1] = .output(previous + bytes)
        } else {
            effects.append(.output(bytes))
        }
    }

    /// Bytes sent in command state: these get the parity bit of the `parityBit` fault.
    private mutating func sendCommandBytes(_ bytes: [UInt8]) {
        output(settings.faults.parityBit ? bytes.map(withEvenParity) : bytes)
    }

    private var lineEnd: [UInt8] { [UInt8(registers[3]), UInt8(registers[4])] }

    /// Information text: `<S3><S4>text<S3><S4>` in V1, `text<S3><S4>` in V0.
    private mutating func info(_ text: String) {
        var bytes = profile.verbose ? lineEnd : []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) }
        bytes += Array(lines.joined(separator: lineEnd)) + lineEnd
        sendCommandBytes(bytes)
    }

    private func framed(_ result: ResultCode) -> [UInt8] {
        if profile.verbose {
            return (settings.faults.omitsLeadingCRLF ? [] : lineEnd) + Array(result.text.utf8) + lineEnd
        }
        return Array(String(result.code).utf8) + [UInt8(registers[3])]
    }

    private enum ResultKind {
        /// The answer to a command line.
        case final
        /// The end of a call attempt or of a call (subject to the late-results fault).
        case call
        /// `RING`.
        case unsolicited
    }

    private mutating func commandResult(_ result: ResultCode, at now: ContinuousClock.Instant) {
        emitResult(result, kind: .final, at: now)
    }

    private mutating func emitResult(_ result: ResultCode, kind: ResultKind, at now: ContinuousClock.Instant) {
        guard !profile.quiet else {
            event("result \(result.text) quiet")
            return
        }
        var bytes = noiseBurst(enabled: settings.faults.noise?.before ?? false)
        bytes += framed(result)
        bytes += noiseBurst(enabled: settings.faults.noise?.after ?? false)
        if settings.faults.duplicateResults, kind != .unsolicited { bytes += framed(result) }
        if settings.faults.parityBit { bytes = bytes.map(withEvenParity) }
        if kind == .call, let late = settings.faults.lateResults, late > .zero {
            scheduled.append(ScheduledOutput(at: now + late, bytes: bytes, event: "result \(result.text) late"))
            scheduled.sort { $0.at < $1.at }
            return
        }
        event("result \(result.text)")
        output(bytes)
        if kind == .final { lastFinalResultAt = now }
    }

    private mutating func emitProgress(_ line: ProgressLine) {
        event("progress \(line.text)")
        guard !profile.quiet else { return }
        if profile.verbose {
            sendCommandBytes(lineEnd + Array(line.text.utf8) + lineEnd)
        } else if let code = line.code {
            sendCommandBytes(Array(String(code).utf8) + [UInt8(registers[3])])
        }
    }

    private mutating func noiseBurst(enabled: Bool) -> [UInt8] {
        guard enabled, let noise = settings.faults.noise, Double.random(in: 0..<1, using: &random) < noise.rate else {
            return []
        }
        return random.noiseBurst()
    }
}

// MARK: - Internal state types

extension ModemEmulator {
    private enum LineReader: Sendable {
        case idle
        case sawA(upper: Bool)
        case body(prefix: String, text: String)
    }

    private enum Phase: Sendable {
        case command
        case offHookCommand(number: String)
        case dialing(Dialing)
        case answering(Answering)
        case online(Call)
        case onlineCommand(Call)
        case unplugged
    }

    private struct Dialing: Sendable {
        var number: String
        var graceUntil: ContinuousClock.Instant
        var stage: DialStage
    }

    private enum DialStage: Sendable {
        /// The dial string itself (commas, flashes) until this time.
        case digits(until: ContinuousClock.Instant, returnsToCommand: Bool)
        /// Waiting for the exchange (answered at once by the driver).
        case routing
        /// A scripted call.
        case progress(Progress)
        /// `ATD` with no digits: off-hook in originate mode until S7.
        case waitingForCarrier(giveUpAt: ContinuousClock.Instant)
        /// A call that never reports anything.
        case silence
        /// Another fake modem is ringing; `noAnswerAt` is nil once it answered.
        case ringingPeer(ConnectSpec, noAnswerAt: ContinuousClock.Instant?)
    }

    private enum Final: Sendable {
        case connect(ConnectSpec)
        case result(ResultCode)
    }

    private struct TimedLine: Sendable {
        var at: ContinuousClock.Instant
        var line: ProgressLine
    }

    private struct Progress: Sendable {
        var lines: [TimedLine]
        var final: Final
        var finalAt: ContinuousClock.Instant
        /// S7 after dialing: no carrier by then means `NO CARRIER`.
        var giveUpAt: ContinuousClock.Instant

        var nextAt: ContinuousClock.Instant { lines.first?.at ?? finalAt }

        init(_ outcome: CallOutcome, final: Final, from now: ContinuousClock.Instant, registers: SRegisters) {
            var time = now + outcome.delay
            lines = outcome.progress.map { line in
                time += line.delay
                return TimedLine(at: time, line: line)
            }
            self.final = final
            finalAt = time
            giveUpAt = now + registers.carrierWait
        }
    }

    private struct Answering: Sendable {
        var graceUntil: ContinuousClock.Instant
        var call: IncomingCall?
        var connectAt: ContinuousClock.Instant?
        var giveUpAt: ContinuousClock.Instant?
    }

    private struct Call: Sendable {
        var spec: ConnectSpec
        /// The CONNECT result as reported (after the X level), repeated by `ATO`.
        var reported: ResultCode
        var escape: EscapeDetector
        var carrierDropAt: ContinuousClock.Instant?
        var unplugAt: ContinuousClock.Instant?
        var carrierLost = false
        var lossReason = "carrier-lost"
        /// When `NO CARRIER` is reported after the carrier went (S10 later).
        var hangUpAt: ContinuousClock.Instant?
        /// When an outside caller hangs up.
        var callerHangUpAt: ContinuousClock.Instant?
        /// The line's pace toward the computer (``ModemSettings/pace``); `nil`: at once.
        var bytesPerSecond: Int?
    }

    private struct Ringing: Sendable {
        var call: IncomingCall
        var nextRingAt: ContinuousClock.Instant
        var count: Int
        /// When the caller ID between the first and second ring is reported.
        var callerIDAt: ContinuousClock.Instant?
    }

    private struct ScheduledOutput: Sendable {
        var at: ContinuousClock.Instant
        var bytes: [UInt8]
        var event: String
    }

    private struct DelayedLine: Sendable {
        var body: String
        var typed: String
        var at: ContinuousClock.Instant
    }
}

private func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(truncatingIfNeeded: character.value) }

/// Sets bit 7 so that the byte has even parity.
private func withEvenParity(_ byte: UInt8) -> UInt8 {
    let data = byte & 0x7F
    return data.nonzeroBitCount % 2 == 0 ? data : data | 0x80
}
