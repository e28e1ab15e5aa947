import SystemIO

/// The one writer of a connection's frames, on both sides of the protocol.
///
/// Every frame a side sends (a server's answers and each subscription's events; a client's
/// requests and unsubscribes) is queued here, first in first out, and one task writes them
/// with ``UnixSocketConnection/write(_:deadline:)``, one whole frame after another. When a
/// write fails partway (the peer did not take the frame within ``frameTimeout`` of its
/// queueing, or hung up) nothing more is written: the connection is closed, the frame being
/// written is cut off and every queued frame is dropped. So the peer reads whole frames,
/// then at most one cut frame and the end of the stream — never the bytes of two frames mixed,
/// whatever the producers do meanwhile (a producer cancelled while its frame is queued or
/// being written does not stop that write).
///
/// The queue holds at most one frame per producer that waits in ``send(_:isolation:)``, and
/// every frame ``post(_:)`` queued: RASClient posts one request per call in flight and one
/// unsubscribe per stream ended. A frame waits at most ``frameTimeout`` before the peer is
/// dropped.
final class FrameWriter: Sendable {
    private struct Item: Sendable {
        let line: [UInt8]
        let deadline: ContinuousClock.Instant
        let written: CheckedContinuation<Bool, Never>?
    }

    /// How long a frame may take from its queueing until its last byte is written.
    let frameTimeout: Duration
    private let connection: UnixSocketConnection
    private let queue: AsyncStream<Item>.Continuation
    private let writer: Task<Void, Never>

    /// A writer of `connection`. `onDrop` is called once if the writer drops the connection
    /// (a write timed out or failed; not when the connection was closed by someone else).
    ///
    /// With `keepsReadingAfterHangUp`, a write that fails because the peer hung up stops the
    /// writing but leaves the connection open, so that its reader still gets what the peer
    /// sent before it left (a client's refusal by the daemon, error 8) and then the end; the
    /// reader's owner closes it. A client wants this: the daemon refuses a connection with
    /// one frame and closes it, perhaps before the client's first request goes out.
    init(connection: UnixSocketConnection, frameTimeout: Duration = .seconds(5), keepsReadingAfterHangUp: Bool = false,
         onDrop: @escaping @Sendable (SystemError) -> Void = { _ in }) {
        let (stream, queue) = AsyncStream<Item>.makeStream()
        self.frameTimeout = frameTimeout
        self.connection = connection
        self.queue = queue
        // Unstructured and never cancelled: a cancelled iteration of an AsyncStream discards
        // what it buffered, and each queued frame must have its waiter resumed. It ends when
        // the queue is finished (`close()`, or a failed write).
        writer = Task.detached {
            await Self.write(stream, to: connection, finishing: queue, keepsReadingAfterHangUp: keepsReadingAfterHangUp,
                             onDrop: onDrop)
        }
    }

    private static func write(_ stream: AsyncStream<Item>, to connection: UnixSocketConnection,
                              finishing queue: AsyncStream<Item>.Continuation, keepsReadingAfterHangUp: Bool,
                              onDrop: @Sendable (SystemError) -> Void) async {
        var failed = false
        for await item in stream {
            if !failed {
                do throws(SystemError) {
                    try await connection.write(item.line, deadline: item.deadline)
                    item.written?.resume(returning: true)
                    continue
                } catch {
                    // The frame may be cut: nothing may follow it on this connection.
                    failed = true
                    queue.finish()
                    if case .hangUp = error, keepsReadingAfterHangUp {} else { connection.close() }
                    if case .closed = error {} else { onDrop(error) }
                }
            }
            item.written?.resume(returning: false)
        }
    }

    /// Queues `line` (one encoded frame) behind the frames queued before it and waits until it
    /// is written. The frame is queued before this call first suspends, so frames queued from
    /// one actor go out in the order of its calls.
    /// - Returns: `false` when the connection was dropped or closed before the frame was
    ///   written whole.
    @discardableResult
    func send(_ line: [UInt8], isolation: isolated (any Actor)? = #isolation) async -> Bool {
        await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Bool, Never>) in
            enqueue(line, written: continuation)
        }
    }

    /// Queues `line` (one encoded frame) without waiting for it to be written.
    func post(_ line: [UInt8]) {
        enqueue(line, written: nil)
    }

    private func enqueue(_ line: [UInt8], written: CheckedContinuation<Bool, Never>?) {
        let item = Item(line: line, deadline: .now + frameTimeout, written: written)
        if case .terminated = queue.yield(item) { written?.resume(returning: false) }
    }

    /// Closes the connection: a frame being written is cut off, queued frames are dropped
    /// (their waiters get `false`). Twice is harmless.
    func close() {
        queue.finish()
        connection.close()
    }

    /// Waits until the writing task has ended (after ``close()`` or a dropped connection).
    func closed() async {
        await writer.value
    }
}
