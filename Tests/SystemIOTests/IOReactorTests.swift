import Foundation
import Glibc
@testable import SystemIO
import Testing
import TestSupport

/// Pipes for the reactor tests, closed at the end.
private final class Pipes: @unchecked Sendable {
    private(set) var readEnds: [Int32] = []
    private(set) var writeEnds: [Int32] = []

    init(count: Int) throws {
        for _ in 0..<count {
            var fds: [Int32] = [-1, -1]
            try #require(pipe(&fds) == 0, "pipe: errno \(errno)")
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            readEnds.append(fds[0])
            writeEnds.append(fds[1])
        }
    }

    func close() {
        for fd in readEnds + writeEnds { _ = Glibc.close(fd) }
    }
}

@Suite("The epoll reactor: thousands of descriptors and deadlines", .serialized)
struct IOReactorTests {
    enum Outcome: Equatable { case ready, timedOut, cancelled, closed }

    /// Waits on `waiter` and classifies how the wait ended.
    static func outcome(_ waiter: ReadinessWaiter, deadline: ContinuousClock.Instant?) async -> Outcome {
        do throws(SystemError) {
            return try await waiter.waitReadable(deadline: deadline) ? .ready : .timedOut
        } catch .cancelled {
            return .cancelled
        } catch {
            return .closed
        }
    }

    @Test func thousandsOfWaitsEndEachTheRightWay() async throws {
        let count = 2_000
        let pipes = try Pipes(count: count)
        defer { pipes.close() }
        let waiters = pipes.readEnds.map { ReadinessWaiter(fd: $0, label: "pipe \($0)") }
        let start = ContinuousClock.now
        // 0..<500: data arrives; 500..<1000: short deadlines, spread over 400 ms;
        // 1000..<1200: cancelled; 1200..<2000: long deadlines, ended by invalidate (close).
        let deadlines: [ContinuousClock.Instant?] = (0..<count).map { index in
            switch index {
            case 0..<500: nil
            case 500..<1000: start + .milliseconds(100 + (index % 400))
            case 1000..<1200: start + .seconds(60)
            default: start + .seconds(30)
            }
        }
        let tasks = (0..<count).map { index in
            Task { (await Self.outcome(waiters[index], deadline: deadlines[index]), ContinuousClock.now) }
        }
        #expect(await TestSupport.eventually(timeout: .seconds(10)) { IOReactor.shared.waiterCount >= count })
        for index in 0..<500 {
            var byte: UInt8 = 0x41
            #expect(write(pipes.writeEnds[index], &byte, 1) == 1)
        }
        for index in 1000..<1200 { tasks[index].cancel() }
        var results: [(Outcome, ContinuousClock.Instant)] = []
        for index in 0..<1200 { results.append(await tasks[index].value) }
        for index in 1200..<count { waiters[index].invalidate() }
        for index in 1200..<count { results.append(await tasks[index].value) }

        for index in 0..<count {
            let (outcome, ended) = results[index]
            switch index {
            case 0..<500: #expect(outcome == .ready, "pipe \(index)")
            case 500..<1000:
                #expect(outcome == .timedOut, "pipe \(index)")
                // A deadline is never reported early.
                if let deadline = deadlines[index] { #expect(ended >= deadline, "pipe \(index) woke early") }
            case 1000..<1200: #expect(outcome == .cancelled, "pipe \(index)")
            default: #expect(outcome == .closed, "pipe \(index)")
            }
        }
        #expect(IOReactor.shared.waiterCount == 0, "every wait was removed")
    }

    @Test func equalDeadlinesShareOneWake() async throws {
        let count = 1_000
        let pipes = try Pipes(count: count)
        defer { pipes.close() }
        let waiters = pipes.readEnds.map { ReadinessWaiter(fd: $0, label: "pipe") }
        let deadline = ReactorClock.nextTick(every: .milliseconds(200), after: .now + .milliseconds(100))
        let before = IOReactor.shared.wakeCount
        let tasks = waiters.map { waiter in Task { await Self.outcome(waiter, deadline: deadline) } }
        for task in tasks { #expect(await task.value == .timedOut) }
        let wakes = IOReactor.shared.wakeCount - before
        // One wake for the shared deadline, plus a few for the registrations' earlier
        // deadlines as they arrive — not one per descriptor.
        #expect(wakes < 50, "\(wakes) wakes for \(count) equal deadlines")
    }

    @Test func idleWaitsWithoutDeadlinesCostNoWakes() async throws {
        let pipes = try Pipes(count: 500)
        defer { pipes.close() }
        let waiters = pipes.readEnds.map { ReadinessWaiter(fd: $0, label: "pipe") }
        let tasks = waiters.map { waiter in Task { await Self.outcome(waiter, deadline: nil) } }
        #expect(await TestSupport.eventually(timeout: .seconds(10)) { IOReactor.shared.waiterCount >= 500 })
        let before = IOReactor.shared.wakeCount
        try await Task.sleep(for: .milliseconds(300))
        #expect(IOReactor.shared.wakeCount - before <= 2, "the reactor woke while nothing happened")
        var byte: UInt8 = 1
        #expect(write(pipes.writeEnds[250], &byte, 1) == 1)
        #expect(await tasks[250].value == .ready)
        for waiter in waiters { waiter.invalidate() }
        for (index, task) in tasks.enumerated() where index != 250 { #expect(await task.value == .closed) }
    }

    @Test func theHeapOrdersDeadlines() {
        var heap = DeadlineHeap()
        let base = ContinuousClock.now
        let offsets = (0..<500).map { _ in Int.random(in: 0..<10_000) }
        for (id, offset) in offsets.enumerated() { heap.insert(base + .milliseconds(offset), id: UInt64(id)) }
        heap.compact { id, _ in id % 3 != 0 }
        var last = base
        var seen = 0
        while let top = heap.pop() {
            #expect(top.deadline >= last)
            #expect(top.id % 3 != 0)
            last = top.deadline
            seen += 1
        }
        #expect(seen == offsets.indices.filter { $0 % 3 != 0 }.count)
    }
}

@Suite("A log writer that never blocks its callers")
struct BackgroundLineWriterTests {
    @Test func aPipeNobodyReadsCostsDroppedLinesNotAStuckCaller() async throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, 4096)
        let writer = BackgroundLineWriter(fd: fds[1], capacity: 8192)
        let line = Array((String(repeating: "x", count: 99) + "\n").utf8)
        // 2000 lines (200 KB) into a 4 KiB pipe nobody reads, behind an 8 KiB buffer: the
        // calls return (this test would hang otherwise), and most lines are dropped.
        for _ in 0..<2000 { writer.write(line) }
        #expect(writer.droppedLines > 1000)
        // Once the pipe is read again, everything queued arrives, after a line that says
        // how many were dropped.
        let readEnd = fds[0]
        let reader = Task.detached { () -> String in
            var text: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            let deadline = ContinuousClock.now + .seconds(10)
            _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
            while ContinuousClock.now < deadline {
                let count = read(readEnd, &buffer, buffer.count)
                if count > 0 { text += buffer.prefix(count) } else { usleep(10_000) }
                if String(decoding: text, as: UTF8.self).contains("log lines dropped") && writer.flush(timeout: .zero) { break }
            }
            return String(decoding: text, as: UTF8.self)
        }
        writer.write(Array("last line\n".utf8))
        let text = await reader.value
        #expect(text.contains("log lines dropped"))
        #expect(writer.flush(timeout: .seconds(5)))
    }
}
