import CSerialSupport
import Glibc
import Foundation
import Synchronization

/// What a waiter learned about its descriptor.
struct IOReadiness: Sendable, Equatable {
    /// The `poll` revents, or 0 if the deadline passed first.
    var revents: Int16
    /// The wait was cancelled (task cancellation or the descriptor's owner closing it).
    var cancelled: Bool = false

    static let timedOut = IOReadiness(revents: 0)
    static let cancelledWait = IOReadiness(revents: 0, cancelled: true)

    var isReadable: Bool { revents & Int16(POLLIN) != 0 }
    var isWritable: Bool { revents & Int16(POLLOUT) != 0 }
    var isHangUp: Bool { revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 }
}

/// One background thread that waits on many descriptors with `poll` and resumes the
/// tasks waiting on them.
///
/// Every wait in the serial layer goes through here: a task that waits for a port to
/// become readable or writable suspends instead of blocking a thread of the cooperative
/// pool, and thousands of waits cost one thread. Deadlines are kept by the same loop
/// (`poll`'s timeout is the nearest deadline), and cancelling the task ends its wait.
final class IOReactor: Sendable {
    /// The process-wide reactor. Its thread starts on first use.
    static let shared = IOReactor()

    private struct Waiter {
        var fd: Int32
        var events: Int16
        var deadline: ContinuousClock.Instant?
        var continuation: CheckedContinuation<IOReadiness, Never>
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 1
        var started = false
        /// The descriptors in the `poll` under way, and a counter of finished polls.
        var polling: Set<Int32> = []
        var iteration: UInt64 = 0
    }

    private let state = Mutex(State())
    /// The pipe that wakes the thread when the set of waiters changes.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var fds: [Int32] = [-1, -1]
        if csupport_pipe2(&fds, Int32(O_NONBLOCK | O_CLOEXEC)) != 0 {
            // Without a wake pipe the loop still works: it re-polls every 10 ms.
            fds = [-1, -1]
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

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
                var outcome = Registration.noDescriptor
                let open = register { fd in
                    outcome = state.withLock { state -> Registration in
                        if state.cancelledEarly.remove(id) != nil { return .cancelledEarly }
                        state.waiters[id] = Waiter(fd: fd, events: events, deadline: deadline, continuation: continuation)
                        if !state.started {
                            state.started = true
                            let thread = Thread { [self] in self.run() }
                            thread.name = "swift-ras serial I/O"
                            thread.start()
                        }
                        return .registered
                    }
                }
                if !open || outcome != .registered {
                    continuation.resume(returning: .cancelledWait)
                } else {
                    wake()
                }
            }
        } onCancel: {
            cancel(id: id)
        }
    }

    private enum Registration { case registered, cancelledEarly, noDescriptor }

    /// Ends every wait on `fd` as cancelled and returns once the reactor's thread no
    /// longer has `fd` in a `poll`, so that closing it really releases the file.
    /// Call it after the owner marked the descriptor closed and before `close(2)`.
    func release(fd: Int32) {
        let (ended, mustSync, iteration) = state.withLock { state in
            let ids = state.waiters.filter { $0.value.fd == fd }.map(\.key)
            let ended = ids.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
            return (ended, state.polling.contains(fd), state.iteration)
        }
        for continuation in ended { continuation.resume(returning: .cancelledWait) }
        guard mustSync else { return }
        wake()
        // The loop's iteration advances as soon as its poll returns (the wake makes it
        // return at once); bounded in case the thread is descheduled for long.
        for _ in 0..<20_000 {
            if state.withLock({ $0.iteration != iteration }) { return }
            usleep(50)
        }
    }

    private func cancel(id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.cancelledEarly.insert(id)
            return nil
        }
        if let waiter {
            waiter.continuation.resume(returning: .cancelledWait)
            wake()
        }
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

    private func run() {
        var pollSet: [pollfd] = []
        var ids: [UInt64] = []
        while true {
            pollSet.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            var nearest: ContinuousClock.Instant?
            if wakeRead >= 0 {
                pollSet.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            }
            state.withLock { state in
                state.polling.removeAll(keepingCapacity: true)
                for (id, waiter) in state.waiters {
                    state.polling.insert(waiter.fd)
                    ids.append(id)
                    pollSet.append(pollfd(fd: waiter.fd, events: waiter.events, revents: 0))
                    if let deadline = waiter.deadline, nearest.map({ deadline < $0 }) ?? true {
                        nearest = deadline
                    }
                }
            }
            var timeout = pollTimeout(until: nearest)
            if wakeRead < 0 && (timeout < 0 || timeout > 10) { timeout = 10 }
            let count = retryingEINTR { poll(&pollSet, nfds_t(pollSet.count), timeout) }
            let offset = wakeRead >= 0 ? 1 : 0
            if count > 0 && offset == 1 && pollSet[0].revents != 0 { drainWakePipe() }
            let now = ContinuousClock.now
            var ready: [(CheckedContinuation<IOReadiness, Never>, IOReadiness)] = []
            state.withLock { state in
                state.iteration &+= 1
                state.polling.removeAll(keepingCapacity: true)
                for (index, id) in ids.enumerated() {
                    let revents = count > 0 ? pollSet[index + offset].revents : 0
                    guard let waiter = state.waiters[id] else { continue }
                    if revents != 0 {
                        state.waiters[id] = nil
                        ready.append((waiter.continuation, IOReadiness(revents: revents)))
                    } else if let deadline = waiter.deadline, deadline <= now {
                        state.waiters[id] = nil
                        ready.append((waiter.continuation, .timedOut))
                    }
                }
            }
            for (continuation, readiness) in ready { continuation.resume(returning: readiness) }
        }
    }
}
