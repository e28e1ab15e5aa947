import Foundation
import Serial
import Synchronization

/// Runs the emulators of a bank on their ptys.
///
/// - A reader task per modem, alive while a program has the slave open, waits on the pty
///   master without a deadline (`PseudoTerminal.waitForActivity`) and feeds what the
///   program writes to the emulator; it ends when the slave is closed.
/// - One sampler task per bank ticks every 10 ms: it looks for closed slaves being opened
///   (every 20 ms) and samples the slave's termios for DTR (B0) — every tick for modems
///   where a drop matters now (off-hook, ringing, `&D3`), every 100 ms for the others.
/// - A timer task per modem sleeps until the emulator's next deadline.
///
/// All emulators and the exchange live under one lock, so that a call between two modems
/// is one consistent state change.
final class BankEngine: Sendable {
    let ptys: [PseudoTerminal]
    let names: [String]
    let recorder: TranscriptRecorder
    private let state: Mutex<BankState>
    private let sampler = Mutex<Task<Void, Never>?>(nil)

    /// The sampler's tick: DTR is sampled this often while it matters.
    static let tick: Duration = .milliseconds(10)
    /// DTR is sampled every this many ticks while it does not matter (100 ms).
    static let slowSamplingTicks = 10
    /// A closed slave is looked at every this many ticks (20 ms).
    static let closedSlaveTicks = 2
    /// Output kept for a slave that does not read, beyond what the pty buffers.
    static let pendingOutputLimit = 1 << 20

    private struct Slot {
        var emulator: ModemEmulator
        var timer: Task<Void, Never>?
        var timerDeadline: ContinuousClock.Instant?
        var timerGeneration: UInt64 = 0
        var pending: [UInt8] = []
        var writer: Task<Void, Never>?
        /// Runs while the slave is open.
        var reader: Task<Void, Never>?
        /// The last sampled speed was B0.
        var speedWasZero = false
        /// The line settings (speed, RTS/CTS) last seen while the speed was not B0.
        var lineSettings: String?
        /// A B0 was reported as a DTR drop and not yet as a raise.
        var dtrDropped = false
    }

    private struct BankState {
        var slots: [Slot]
        var exchange: PhoneExchange
        var running = false
        var stopped = false
    }

    init(ptys: [PseudoTerminal], settings: [ModemSettings], exchange: PhoneExchange, recorder: TranscriptRecorder) {
        self.ptys = ptys
        names = settings.map { $0.name ?? "modem" }
        self.recorder = recorder
        let now = ContinuousClock.now
        let date = Date()
        state = Mutex(BankState(slots: settings.map { Slot(emulator: ModemEmulator(settings: $0, at: now, wallClock: date)) }, exchange: exchange))
    }

    // MARK: Life cycle

    func start() throws(FakeModemError) {
        try state.withLock { state throws(FakeModemError) in
            guard !state.stopped else { throw FakeModemError.stopped }
            guard !state.running else { return }
            state.running = true
            let now = ContinuousClock.now
            for index in state.slots.indices {
                recorder.record(names[index], .event, Array("power-on \(ptys[index].slavePath)".utf8), at: now)
                reschedule(&state, index)
            }
        }
        let task = Task { await self.sample() }
        sampler.withLock { $0 = task }
    }

    /// Stops everything; waits for every task to end, then closes the masters.
    func stop() async {
        let tasks = shutDown()
        for task in tasks { await task.value }
        for pty in ptys { pty.close() }
        recorder.close()
    }

    /// Marks the bank stopped and cancels its tasks; returns them for awaiting.
    func shutDown() -> [Task<Void, Never>] {
        let now = ContinuousClock.now
        var tasks = state.withLock { state -> [Task<Void, Never>] in
            if !state.stopped {
                for index in state.slots.indices {
                    recorder.record(names[index], .event, Array("power-off".utf8), at: now)
                }
            }
            state.running = false
            state.stopped = true
            var tasks: [Task<Void, Never>] = []
            for index in state.slots.indices {
                tasks += [state.slots[index].timer, state.slots[index].writer, state.slots[index].reader].compactMap { $0 }
                state.slots[index].timer = nil
                state.slots[index].writer = nil
                state.slots[index].reader = nil
                state.slots[index].lineSettings = nil
            }
            return tasks
        }
        tasks += sampler.withLock { sampler in
            defer { sampler = nil }
            return sampler.map { [$0] } ?? []
        }
        for task in tasks { task.cancel() }
        return tasks
    }

    // MARK: Queries

    func withEmulator<T: Sendable>(_ index: Int, _ body: (ModemEmulator) -> T) -> T {
        state.withLock { body($0.slots[index].emulator) }
    }

    /// Whether a reader serves modem `index`'s slave: the engine saw it opened and not yet closed.
    func seesSlaveOpen(_ index: Int) -> Bool {
        state.withLock { $0.slots[index].reader != nil }
    }

    /// Replaces modem `index`'s faults from now on.
    func changeFaults(_ index: Int, _ faults: FaultSet) { act(on: index) { $0.changeFaults(faults, at: $1) } }

    /// Drops modem `index`'s call now (the far end or the line went).
    func dropCarrier(_ index: Int) { act(on: index) { $0.dropCarrier(at: $1) } }

    /// Unplugs modem `index` now.
    func unplug(_ index: Int) { act(on: index) { $0.unplug(at: $1) } }

    /// Schedules a call from outside the bank to modem `index` (see ``ModemEmulator/scheduleCall(_:at:)``).
    func call(_ index: Int, _ call: ExternalCall) { act(on: index) { $0.scheduleCall(call, at: $1) } }

    /// Something from outside happens to modem `index` now; its effects are carried out.
    private func act(on index: Int, _ change: (inout ModemEmulator, ContinuousClock.Instant) -> Void) {
        state.withLock { state in
            let now = ContinuousClock.now
            change(&state.slots[index].emulator, now)
            process(&state, index, at: now)
        }
    }

    // MARK: Sampler

    private func sample() async {
        var tick = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: BankEngine.tick) } catch { return }
            tick &+= 1
            let (closed, open) = state.withLock { state -> ([Int], [Int]) in
                guard state.running else { return ([], []) }
                var closed: [Int] = []
                var open: [Int] = []
                for index in state.slots.indices where state.slots[index].emulator.mode != .unplugged {
                    if state.slots[index].reader == nil {
                        if tick % BankEngine.closedSlaveTicks == 0 { closed.append(index) }
                    } else if tick % BankEngine.slowSamplingTicks == 0 || state.slots[index].emulator.wantsFrequentDTRSampling {
                        open.append(index)
                    }
                }
                return (closed, open)
            }
            for index in closed where ptys[index].isSlaveOpen { slaveOpened(index) }
            for index in open {
                guard let settings = try? ptys[index].slaveSettings() else { continue }
                speedSampled(index, isZero: settings.speed == nil)
                if let description = Self.lineDescription(settings) { lineSampled(index, description) }
            }
        }
    }

    /// A program opened the slave: DTR counts as raised, and a reader starts.
    private func slaveOpened(_ index: Int) {
        let settings = try? ptys[index].slaveSettings()
        let speedIsZero = settings?.speed == nil
        state.withLock { state in
            guard state.running, state.slots[index].reader == nil else { return }
            state.slots[index].speedWasZero = speedIsZero
            state.slots[index].lineSettings = settings.flatMap(Self.lineDescription)
            state.slots[index].dtrDropped = false
            state.slots[index].reader = Task { await self.read(index) }
            let now = ContinuousClock.now
            state.slots[index].emulator.slaveOpened(at: now)
            if let opened = state.slots[index].lineSettings {
                // What the program opened with, so a transcript shows the speed and flow
                // control a port was set to (later changes follow as line-settings too).
                recorder.record(names[index], .event, Array("line-settings \(opened)".utf8), at: now)
            }
            process(&state, index, at: now)
        }
    }

    /// `speed=9600 crtscts=on`; `nil` at B0 (DTR dropped, not a line setting).
    private static func lineDescription(_ settings: PseudoTerminal.SlaveSettings) -> String? {
        settings.speed.map { "speed=\($0) crtscts=\(settings.hardwareFlowControl ? "on" : "off")" }
    }

    /// Records a change of the computer's line settings (`line-settings speed=9600
    /// crtscts=on`), so a test sees from the transcript what reached the port; the
    /// settings the program opened with are recorded once at the open.
    private func lineSampled(_ index: Int, _ description: String) {
        state.withLock { state in
            guard state.running, state.slots[index].reader != nil else { return }
            let before = state.slots[index].lineSettings
            state.slots[index].lineSettings = description
            if let before, before != description {
                recorder.record(names[index], .event, Array("line-settings \(description)".utf8), at: .now)
            }
        }
    }

    /// Turns the slave's speed into DTR: a change to B0 drops it, a change back raises it.
    private func speedSampled(_ index: Int, isZero: Bool) {
        state.withLock { state in
            guard state.running, state.slots[index].reader != nil, isZero != state.slots[index].speedWasZero else { return }
            state.slots[index].speedWasZero = isZero
            let now = ContinuousClock.now
            if isZero {
                state.slots[index].dtrDropped = true
                state.slots[index].emulator.dtrChanged(raised: false, at: now)
            } else if state.slots[index].dtrDropped {
                state.slots[index].dtrDropped = false
                state.slots[index].emulator.dtrChanged(raised: true, at: now)
            }
            process(&state, index, at: now)
        }
    }

    // MARK: Reader

    /// Reads what the program writes until it closes the slave.
    private func read(_ index: Int) async {
        let pty = ptys[index]
        var emptyReads = 0
        while !Task.isCancelled {
            let activity: PseudoTerminal.Activity
            do { activity = try await pty.waitForActivity(deadline: nil) } catch { return }
            let now = ContinuousClock.now
            switch activity {
            case .readable:
                guard let bytes = try? pty.readNow(maxCount: 4096) else { return }
                if !bytes.isEmpty {
                    emptyReads = 0
                    received(index, bytes, at: now)
                } else if pty.isSlaveOpen {
                    // Readable yet nothing to read: do not spin on it.
                    emptyReads += 1
                    if emptyReads > 3 {
                        do { try await Task.sleep(for: BankEngine.tick) } catch { return }
                    }
                } else {
                    slaveClosed(index)
                    return
                }
            case .slaveClosed:
                slaveClosed(index)
                return
            case .timedOut:
                continue
            }
        }
    }

    private func received(_ index: Int, _ bytes: [UInt8], at now: ContinuousClock.Instant) {
        state.withLock { state in
            guard state.running else { return }
            recorder.record(names[index], .fromComputer, bytes, at: now)
            state.slots[index].emulator.receive(bytes, at: now)
            process(&state, index, at: now)
        }
    }

    /// The program closed the slave: the reader ends, the sampler watches for a reopen.
    private func slaveClosed(_ index: Int) {
        let hangUpOnClose = (try? ptys[index].slaveSettings())?.hangUpOnClose ?? false
        state.withLock { state in
            guard state.running else { return }
            state.slots[index].reader = nil
            state.slots[index].lineSettings = nil
            let now = ContinuousClock.now
            state.slots[index].emulator.slaveClosed(hangUpOnClose: hangUpOnClose, at: now)
            process(&state, index, at: now)
        }
    }

    // MARK: Timers

    private func reschedule(_ state: inout BankState, _ index: Int) {
        let deadline = state.slots[index].emulator.nextDeadline
        guard deadline != state.slots[index].timerDeadline else { return }
        state.slots[index].timer?.cancel()
        state.slots[index].timer = nil
        state.slots[index].timerDeadline = deadline
        state.slots[index].timerGeneration &+= 1
        guard let deadline, state.running else { return }
        let generation = state.slots[index].timerGeneration
        state.slots[index].timer = Task {
            do {
                try await Task.sleep(until: deadline, tolerance: .milliseconds(1), clock: .continuous)
            } catch {
                return
            }
            self.timerFired(index, generation: generation)
        }
    }

    private func timerFired(_ index: Int, generation: UInt64) {
        state.withLock { state in
            guard state.running, state.slots[index].timerGeneration == generation else { return }
            state.slots[index].timer = nil
            state.slots[index].timerDeadline = nil
            let now = ContinuousClock.now
            state.slots[index].emulator.advance(to: now)
            process(&state, index, at: now)
        }
    }

    // MARK: Effects

    /// Carries out the effects of modem `first` — and of every modem they touch.
    private func process(_ state: inout BankState, _ first: Int, at now: ContinuousClock.Instant) {
        var queue = [first]
        var touched: Set<Int> = []
        while !queue.isEmpty {
            let index = queue.removeFirst()
            touched.insert(index)
            for effect in state.slots[index].emulator.takeEffects() {
                switch effect {
                case .output(let bytes):
                    recorder.record(names[index], .toComputer, bytes, at: now)
                    write(&state, index, bytes, at: now)
                case .event(let text):
                    recorder.record(names[index], .event, Array(text.utf8), at: now)
                case .placeCall(let number):
                    queue += route(&state, from: index, number: number, at: now)
                case .answered:
                    if let peer = state.exchange.peer(of: index) {
                        state.slots[peer].emulator.remoteAnswered(at: now)
                        queue.append(peer)
                    }
                case .connected:
                    if let peer = state.exchange.peer(of: index) {
                        state.slots[peer].emulator.remoteConnected(at: now)
                        queue.append(peer)
                    }
                case .lineData(let bytes):
                    if let peer = state.exchange.peer(of: index) {
                        state.slots[peer].emulator.remoteData(bytes, at: now)
                        queue.append(peer)
                    }
                case .hungUp:
                    if let peer = state.exchange.unlink(index) {
                        state.slots[peer].emulator.remoteHungUp(at: now)
                        queue.append(peer)
                    }
                case .unplug:
                    state.slots[index].pending = []
                    ptys[index].close()
                }
            }
        }
        for index in touched { reschedule(&state, index) }
    }

    /// Routes a dialed number; returns the modems whose effects must be processed.
    private func route(_ state: inout BankState, from caller: Int, number: String, at now: ContinuousClock.Instant) -> [Int] {
        switch state.exchange.route(number) {
        case .scripted(let outcome):
            state.slots[caller].emulator.routeCall(.scripted(outcome), at: now)
            return [caller]
        case .ring(let callee, let ring, let delay):
            let callerSide = ConnectSpec(result: ring.connect, data: .peer, carrierDropAfter: ring.carrierDropAfter)
            if callee != caller, state.slots[callee].emulator.mode == .unplugged {
                // Nobody there to pick up: the caller hears ringing until S7.
                state.slots[caller].emulator.routeCall(.ringing(callerSide), at: now)
                return [caller]
            }
            // The exchange delivers the calling modem's number as caller ID.
            let callerNumber = state.slots[caller].emulator.settings.number
            let incoming = IncomingCall(
                connect: ConnectSpec(result: ring.connect, data: ring.calleeEchoes ? .peerEcho : .peer),
                handshake: ring.handshake, firstRingAfter: delay,
                caller: CallerID(number: callerNumber.map { .number($0) } ?? .unavailable))
            guard callee != caller, state.slots[callee].emulator.incomingCall(incoming, at: now) else {
                state.slots[caller].emulator.routeCall(.scripted(.result(.busy, delay: delay)), at: now)
                return [caller]
            }
            state.exchange.link(caller, callee)
            state.slots[caller].emulator.routeCall(.ringing(callerSide), at: now)
            return [caller, callee]
        }
    }

    // MARK: Output

    private func write(_ state: inout BankState, _ index: Int, _ bytes: [UInt8], at now: ContinuousClock.Instant) {
        let pty = ptys[index]
        // With no program on the slave the bytes go nowhere, as on a real unplugged cable.
        guard !pty.isClosed, pty.isSlaveOpen else { return }
        if state.slots[index].pending.isEmpty {
            let written = (try? pty.writeNow(bytes)) ?? bytes.count
            if written >= bytes.count { return }
            state.slots[index].pending = Array(bytes[written...])
        } else {
            let room = max(0, BankEngine.pendingOutputLimit - state.slots[index].pending.count)
            state.slots[index].pending += bytes.prefix(room)
            if room < bytes.count {
                recorder.record(names[index], .event, Array("output-overflow \(bytes.count - room)".utf8), at: now)
            }
        }
        guard state.slots[index].writer == nil, state.running else { return }
        state.slots[index].writer = Task { await self.drainPending(index) }
    }

    /// Writes pending output as the slave reads it.
    private func drainPending(_ index: Int) async {
        let pty = ptys[index]
        while true {
            do { _ = try await pty.waitUntilWritable(deadline: .now + .milliseconds(100)) } catch { return }
            let done = state.withLock { state -> Bool in
                guard state.running else { return true }
                if pty.isClosed || !pty.isSlaveOpen {
                    state.slots[index].pending = []
                } else if let written = try? pty.writeNow(state.slots[index].pending) {
                    state.slots[index].pending.removeFirst(min(written, state.slots[index].pending.count))
                }
                if state.slots[index].pending.isEmpty {
                    state.slots[index].writer = nil
                    return true
                }
                return false
            }
            if done { return }
        }
    }
}
