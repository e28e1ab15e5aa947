import CSystemSupport
import Foundation
import Glibc
import Synchronization

/// What a waiter learned about its descriptor.
package struct IOReadiness: Sendable, Equatable {
    /// The `poll`-style revents (`POLLIN`, `POLLOUT`, `POLLHUP`…), or 0 if the deadline passed first.
    package var revents: Int16
    /// The wait was cancelled (task cancellation or the descriptor's owner closing it).
    package var cancelled: Bool = false

    static let timedOut = IOReadiness(revents: 0)
    static let cancelledWait = IOReadiness(revents: 0, cancelled: true)

    /// Readable (`POLLIN`).
    package var isReadable: Bool { revents & Int16(POLLIN) != 0 }
    /// Writable (`POLLOUT`).
    package var isWritable: Bool { revents & Int16(POLLOUT) != 0 }
    /// Hung up or failed (`POLLHUP`, `POLLERR`, `POLLNVAL`).
    package var isHangUp: Bool { revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 }
}

/// One background thread that waits on many descriptors with `epoll` and resumes the tasks
/// waiting on them.
///
/// Every wait of `SystemIO` and `Serial` goes through here: a task that waits for a port or
/// socket to become readable or writable suspends instead of blocking a thread of the
/// cooperative pool. The work per event does not depend on how many descriptors are
/// registered:
///
/// - a descriptor is added to the epoll set when its first wait starts and removed when its
///   last one ends (level-triggered); nothing is rebuilt per wake, and starting a wait does
///   not wake the thread;
/// - deadlines live in a binary heap; the thread sleeps until the earliest one and is woken
///   (through a pipe) only when a new wait has an earlier deadline than the one it sleeps
///   until. Waits whose deadlines are equal are resumed by one wake, so callers that poll
///   periodically align their deadlines (see ``ReactorClock``) to share the wake;
/// - cancelling a wait or closing a descriptor resumes its waits at once, under the same lock.
final class IOReactor: Sendable {
    /// The process-wide reactor. Its thread starts on first use.
    static let shared = IOReactor()

    private struct Waiter {
        var fd: Int32
        var events: Int16
        var deadline: ContinuousClock.Instant?
        var continuation: CheckedContinuation<IOReadiness, Never>
    }

    /// A descriptor in the epoll set: the token its events carry and its waits.
    private struct Registration {
        var token: UInt64
        var interest: UInt32
        var waiters: [UInt64] = []
    }

    private enum EnterOutcome {
        case registered(mustWake: Bool)
        case cancelledEarly
        case noDescriptor
        case alwaysReady(Int16)
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var registrations: [Int32: Registration] = [:]
        var descriptors: [UInt64: Int32] = [:]
        var timers = DeadlineHeap()
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 1
        var nextToken: UInt64 = 1
        var started = false
        /// Whether the thread is in (or about to enter) `epoll_wait`, and until when.
        var sleeping = false
        var sleepUntil: ContinuousClock.Instant?
        /// Counters for tests and benchmarks.
        var wakes: UInt64 = 0
    }

    private let state = Mutex(State())
    private let epoll: Int32
    /// The pipe that wakes the thread when a wait needs an earlier timeout.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private static let wakeToken: UInt64 = 0

    private init() {
        epoll = csupport_epoll_create()
        var fds: [Int32] = [-1, -1]
        if csupport_pipe2(&fds, Int32(O_NONBLOCK | O_CLOEXEC)) != 0 { fds = [-1, -1] }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        if epoll >= 0, wakeRead >= 0 {
            _ = csupport_epoll_ctl(epoll, csupport_epoll_add(), wakeRead, UInt32(POLLIN), Self.wakeToken)
        }
    }

    /// How many times the thread has returned from `epoll_wait` (for tests and benchmarks).
    var wakeCount: UInt64 { state.withLock { $0.wakes } }

    /// How many waits are registered now.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Waits until a descriptor reports any of `events` (POLLIN, POLLOUT…) or a
    /// hang-up/error, the deadline passes (`revents == 0`), or the wait is cancelled.
    ///
    /// `register` is called once, synchronously, with a function that enters the wait for a
    /// descriptor; it returns `false` (and the wait ends as cancelled) if it has none —
    /// this lets ``Descriptor`` check "still open" and register under one lock.
    func wait(
        events: Int16, deadline: ContinuousClock.Instant?,
        register: (_ enter: (Int32) -> Void) -> Bool
    ) async -> IOReadiness {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<IOReadiness, Never>) in
                var outcome = EnterOutcome.noDescriptor
                let open = register { fd in
                    outcome = state.withLock { state in
                        enter(id: id, fd: fd, events: events, deadline: deadline, continuation: continuation, &state)
                    }
                }
                switch open ? outcome : .noDescriptor {
                case .registered(let mustWake):
                    if mustWake { wake() }
                case .cancelledEarly, .noDescriptor:
                    continuation.resume(returning: .cancelledWait)
                case .alwaysReady(let revents):
                    continuation.resume(returning: IOReadiness(revents: revents))
                }
            }
        } onCancel: {
            cancel(id: id)
        }
    }

    /// Registers a wait (under the state lock).
    private func enter(
        id: UInt64, fd: Int32, events: Int16, deadline: ContinuousClock.Instant?,
        continuation: CheckedContinuation<IOReadiness, Never>, _ state: inout State
    ) -> EnterOutcome {
        if state.cancelledEarly.remove(id) != nil { return .cancelledEarly }
        var registration = state.registrations[fd]
        let wanted = Self.epollEvents(events)
        if var existing = registration {
            let interest = existing.interest | wanted
            if interest != existing.interest {
                _ = csupport_epoll_ctl(epoll, csupport_epoll_mod(), fd, interest, existing.token)
                existing.interest = interest
            }
            registration = existing
        } else {
            let token = state.nextToken
            state.nextToken += 1
            switch Syscall.result({ csupport_epoll_ctl(epoll, csupport_epoll_add(), fd, wanted, token) }) {
            case .success: break
            // epoll refuses regular files (EPERM): for poll they are always ready.
            case .failure(.notPermitted): return .alwaysReady(events & Int16(POLLIN | POLLOUT))
            case .failure: return .noDescriptor
            }
            registration = Registration(token: token, interest: wanted)
            state.descriptors[token] = fd
        }
        guard var registration else { return .noDescriptor }
        registration.waiters.append(id)
        state.registrations[fd] = registration
        state.waiters[id] = Waiter(fd: fd, events: events, deadline: deadline, continuation: continuation)
        var mustWake = false
        if let deadline {
            state.timers.insert(deadline, id: id)
            if state.sleeping, state.sleepUntil.map({ deadline < $0 }) ?? true {
                // The thread sleeps past this deadline: wake it once to sleep shorter.
                state.sleepUntil = deadline
                mustWake = true
            }
        }
        if !state.started {
            state.started = true
            let thread = Thread { [self] in self.run() }
            thread.name = "swift-ras serial I/O"
            thread.start()
        }
        return .registered(mustWake: mustWake)
    }

    /// Ends every wait on `fd` as cancelled and removes it from the epoll set. Call it after
    /// the owner marked the descriptor closed and before `close(2)`: once it returns, no
    /// event of `fd` is delivered any more, and `epoll` holds no reference that would keep
    /// the file open.
    func release(fd: Int32) {
        let ended = state.withLock { state -> [CheckedContinuation<IOReadiness, Never>] in
            guard let registration = state.registrations.removeValue(forKey: fd) else { return [] }
            state.descriptors[registration.token] = nil
            _ = csupport_epoll_ctl(epoll, csupport_epoll_del(), fd, 0, 0)
            return registration.waiters.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
        }
        for continuation in ended { continuation.resume(returning: .cancelledWait) }
    }

    private func cancel(id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<IOReadiness, Never>? in
            guard let waiter = remove(id, &state) else {
                state.cancelledEarly.insert(id)
                return nil
            }
            return waiter.continuation
        }
        continuation?.resume(returning: .cancelledWait)
    }

    /// Removes a wait and updates (or drops) its descriptor's registration.
    private func remove(_ id: UInt64, _ state: inout State) -> Waiter? {
        guard let waiter = state.waiters.removeValue(forKey: id) else { return nil }
        guard var registration = state.registrations[waiter.fd] else { return waiter }
        registration.waiters.removeAll { $0 == id }
        if registration.waiters.isEmpty {
            state.registrations[waiter.fd] = nil
            state.descriptors[registration.token] = nil
            _ = csupport_epoll_ctl(epoll, csupport_epoll_del(), waiter.fd, 0, 0)
        } else {
            let interest = registration.waiters.reduce(UInt32(0)) { $0 | Self.epollEvents(state.waiters[$1]?.events ?? 0) }
            if interest != registration.interest {
                _ = csupport_epoll_ctl(epoll, csupport_epoll_mod(), waiter.fd, interest, registration.token)
                registration.interest = interest
            }
            state.registrations[waiter.fd] = registration
        }
        return waiter
    }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// `POLLIN`/`POLLOUT`/`POLLPRI` → the epoll bits, which have the same values on Linux
    /// (`EPOLLIN` 1, `EPOLLPRI` 2, `EPOLLOUT` 4; hang-up and error are always reported).
    private static func epollEvents(_ events: Int16) -> UInt32 {
        UInt32(UInt16(bitPattern: events)) & UInt32(POLLIN | POLLOUT | POLLPRI)
    }

    private func run() {
        let capacity = 256
        var tokens = [UInt64](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        var ready: [(CheckedContinuation<IOReadiness, Never>, IOReadiness)] = []
        while true {
            let nearest = state.withLock { state -> ContinuousClock.Instant? in
                // Drop the heap's entries of waits that already ended.
                while let top = state.timers.peek, state.waiters[top.id]?.deadline != top.deadline {
                    state.timers.pop()
                }
                if state.timers.count > 1024, state.timers.count > 2 * state.waiters.count {
                    state.timers.compact { id, deadline in state.waiters[id]?.deadline == deadline }
                }
                let nearest = state.timers.peek?.deadline
                state.sleeping = true
                state.sleepUntil = nearest
                return nearest
            }
            var timeout = pollTimeout(until: nearest)
            if epoll < 0 || wakeRead < 0, timeout < 0 || timeout > 10 { timeout = 10 }
            var count: Int32 = 0
            if epoll >= 0, case .success(let ready) = Syscall.result({
                tokens.withUnsafeMutableBufferPointer { tokenBuffer in
                    events.withUnsafeMutableBufferPointer { eventBuffer in
                        csupport_epoll_wait(epoll, tokenBuffer.baseAddress, eventBuffer.baseAddress, Int32(capacity), timeout)
                    }
                }
            }) {
                count = ready
            }
            if epoll < 0 { usleep(10_000) }
            let now = ContinuousClock.now
            ready.removeAll(keepingCapacity: true)
            state.withLock { state in
                state.sleeping = false
                state.wakes &+= 1
                for index in 0..<max(0, Int(count)) {
                    let token = tokens[index]
                    if token == Self.wakeToken {
                        drainWakePipe()
                        continue
                    }
                    // An event of a descriptor released meanwhile is dropped.
                    guard let fd = state.descriptors[token], let registration = state.registrations[fd] else { continue }
                    let revents = Int16(truncatingIfNeeded: events[index])
                    let always = Int16(POLLHUP | POLLERR | POLLNVAL)
                    for id in registration.waiters {
                        guard let waiter = state.waiters[id] else { continue }
                        let mine = revents & (waiter.events | always)
                        if mine != 0, let removed = remove(id, &state) {
                            ready.append((removed.continuation, IOReadiness(revents: mine)))
                        }
                    }
                }
                while let top = state.timers.peek, top.deadline <= now {
                    state.timers.pop()
                    if let waiter = state.waiters[top.id], waiter.deadline == top.deadline, let removed = remove(top.id, &state) {
                        ready.append((removed.continuation, .timedOut))
                    }
                }
            }
            for (continuation, readiness) in ready { continuation.resume(returning: readiness) }
        }
    }
}

/// A binary min-heap of (deadline, wait id): the next deadline in O(1), insert and pop in
/// O(log n). Entries of waits that ended are left in place and skipped when they surface.
struct DeadlineHeap {
    private var items: [(deadline: ContinuousClock.Instant, id: UInt64)] = []

    var count: Int { items.count }
    var peek: (deadline: ContinuousClock.Instant, id: UInt64)? { items.first }

    mutating func insert(_ deadline: ContinuousClock.Instant, id: UInt64) {
        items.append((deadline, id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> (deadline: ContinuousClock.Instant, id: UInt64)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(from: 0)
        return top
    }

    /// Keeps only the entries `keep` accepts, then restores the heap order.
    mutating func compact(_ keep: (UInt64, ContinuousClock.Instant) -> Bool) {
        items.removeAll { !keep($0.id, $0.deadline) }
        for index in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(from: index) }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Deadlines on a shared grid, so that periodic checks of many lines (carrier-detect
/// sampling) fall due together and cost the reactor one wake per period, not one per line.
public enum ReactorClock {
    private static let epoch = ContinuousClock.now

    /// The first instant after `now` that is a whole multiple of `period` after a
    /// process-wide epoch.
    public static func nextTick(every period: Duration, after now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant {
        guard period > .zero else { return now }
        let elapsed = epoch.duration(to: now)
        let periods = (elapsed / period).rounded(.down) + 1
        return epoch + period * Int(periods)
    }
}
