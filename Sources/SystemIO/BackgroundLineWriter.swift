import Dispatch
import Foundation
import Glibc
import Synchronization

/// Writes lines to a descriptor (a daemon's stderr) from a thread of its own, so that the
/// callers never wait for it: a log that nobody reads (a full pipe, a stalled journald) costs
/// buffered and then dropped lines — counted, and reported in the log once it moves again —
/// never a stuck daemon. Its thread lives as long as the process.
public final class BackgroundLineWriter: Sendable {
    private struct State {
        var queue: [[UInt8]] = []
        var queuedBytes = 0
        var dropped: UInt64 = 0
        var droppedTotal: UInt64 = 0
        var written: UInt64 = 0
        var writing = false
    }

    /// The descriptor written to; it stays owned by the caller.
    public let fd: Int32
    /// The most bytes held while the descriptor does not take them.
    public let capacity: Int
    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)
    private let idle = DispatchSemaphore(value: 0)

    /// A writer for `fd` (standard error by default) holding at most `capacity` bytes.
    public init(fd: Int32 = 2, capacity: Int = 1 << 20) {
        self.fd = fd
        self.capacity = max(1, capacity)
        let thread = Thread { [self] in self.run() }
        thread.name = "swift-ras log writer"
        thread.start()
    }

    /// Queues `line` (bytes, with its newline) and returns at once. When `capacity` bytes are
    /// already waiting, the line is dropped and counted.
    public func write(_ line: [UInt8]) {
        let queued = state.withLock { state -> Bool in
            guard state.queuedBytes + line.count <= capacity else {
                state.dropped += 1
                state.droppedTotal += 1
                return false
            }
            state.queue.append(line)
            state.queuedBytes += line.count
            return true
        }
        if queued { signal.signal() }
    }

    /// How many lines were dropped so far because the descriptor did not take them.
    public var droppedLines: UInt64 { state.withLock { $0.droppedTotal } }

    /// How many lines were written so far.
    public var writtenLines: UInt64 { state.withLock { $0.written } }

    /// Waits up to `timeout` for the queue to be written (before a daemon exits).
    /// - Returns: whether everything queued was written.
    @discardableResult
    public func flush(timeout: Duration = .seconds(2)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.queue.isEmpty && !$0.writing }) { return true }
            signal.signal()
            _ = idle.wait(timeout: .now() + .milliseconds(20))
        }
        return state.withLock { $0.queue.isEmpty && !$0.writing }
    }

    private func run() {
        while true {
            signal.wait()
            let (lines, dropped) = state.withLock { state -> ([[UInt8]], UInt64) in
                defer {
                    state.queue.removeAll(keepingCapacity: true)
                    state.queuedBytes = 0
                    state.dropped = 0
                }
                state.writing = !state.queue.isEmpty || state.dropped > 0
                return (state.queue, state.dropped)
            }
            if dropped > 0 {
                writeAll(Array("swift-ras: \(dropped) log lines dropped: the log output was not being read\n".utf8))
            }
            for line in lines { writeAll(line) }
            state.withLock { state in
                state.written &+= UInt64(lines.count)
                state.writing = false
            }
            idle.signal()
        }
    }

    /// A blocking write of every byte (this thread is the only one that waits on it).
    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            switch Syscall.result({ bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }) {
            case .success(let count) where count > 0:
                offset += count
            case .failure(.resourceTemporarilyUnavailable):
                // A non-blocking descriptor that is full: wait for room without spinning.
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 1000)
            case .success, .failure:
                return
            }
        }
    }
}
