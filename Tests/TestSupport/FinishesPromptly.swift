import Foundation
import Synchronization

/// Runs `body` on a thread of its own and reports whether it finished within `limit`. If it
/// did not (an `open` waiting for a FIFO's writer), the FIFOs are opened for writing so that
/// it finishes after all and the test process is not left with a stuck thread.
public func finishesPromptly<T: Sendable>(
    unblocking fifos: [String], limit: Duration = .seconds(3), _ body: @escaping @Sendable () -> T
) -> (finished: Bool, value: T) {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<T?>(nil)
    let thread = Thread {
        let value = body()
        result.withLock { $0 = value }
        done.signal()
    }
    thread.start()
    let (seconds, attoseconds) = limit.components
    let finished = done.wait(timeout: .now() + Double(seconds) + Double(attoseconds) / 1e18) == .success
    if !finished {
        for fifo in fifos {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        done.wait()
    }
    // The body has run: its value is set.
    return (finished, result.withLock { $0 }!)
}
