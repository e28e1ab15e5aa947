import Glibc
import Synchronization

/// Waits until a descriptor that another library owns becomes readable — e.g. the
/// netlink socket of a libudev monitor — on the one reactor thread, so that no module
/// outside `SystemIO` has to call `poll` itself.
///
/// The waiter never reads, writes or closes the descriptor. Its owner calls
/// ``invalidate()`` before closing it: that ends every wait and returns once the poll
/// thread no longer holds the descriptor, so the number can safely be reused.
public final class ReadinessWaiter: Sendable {
    /// A name for the descriptor, used in errors (e.g. `udev monitor`).
    public let label: String
    private let descriptor: Mutex<Int32>

    /// Creates a waiter for `fd`, which stays owned by the caller.
    public init(fd: Int32, label: String) {
        self.label = label
        descriptor = Mutex(fd)
    }

    /// Whether ``invalidate()`` has been called.
    public var isInvalidated: Bool { descriptor.withLock { $0 < 0 } }

    /// Waits until the descriptor is readable (or reports an error or hang-up, which a
    /// read will then tell), or `deadline` passes (`nil`: no deadline).
    ///
    /// - Returns: `true` when the descriptor is ready, `false` when the deadline passed.
    /// - Throws: ``SystemError/cancelled(operation:path:)`` if the task was cancelled,
    ///   `.closed` if the waiter was (or becomes) invalidated.
    public func waitReadable(deadline: ContinuousClock.Instant?) async throws(SystemError) -> Bool {
        let readiness = await IOReactor.shared.wait(events: Int16(POLLIN), deadline: deadline) { register in
            descriptor.withLock { fd in
                guard fd >= 0 else { return false }
                register(fd)
                return true
            }
        }
        if readiness.cancelled {
            if isInvalidated { throw .closed(path: label) }
            throw .cancelled(operation: "wait readable", path: label)
        }
        return readiness.revents != 0
    }

    /// Ends every wait (they throw `.closed`) and returns once the reactor has let go
    /// of the descriptor. Call it before the owner closes the descriptor. Twice is harmless.
    public func invalidate() {
        let fd = descriptor.withLock { fd -> Int32 in
            defer { fd = -1 }
            return fd
        }
        guard fd >= 0 else { return }
        IOReactor.shared.release(fd: fd)
    }
}
