import Glibc
import SystemIO
import Testing

/// `SystemIO.ReadinessWaiter`, which the udev monitor waits with.
@Suite("Readiness waiter")
struct ReadinessWaiterTests {
    /// A pipe owned by the test; closed at the end.
    final class Pipe {
        let read: Int32
        let write: Int32

        init() throws {
            var fds: [Int32] = [-1, -1]
            try #require(pipe(&fds) == 0)
            read = fds[0]
            write = fds[1]
        }

        func send() { _ = Glibc.write(write, "x", 1) }

        deinit {
            _ = close(read)
            _ = close(write)
        }
    }

    @Test("reports readable data, and a deadline that passes first")
    func readableAndDeadline() async throws {
        let pipe = try Pipe()
        let waiter = ReadinessWaiter(fd: pipe.read, label: "pipe")
        #expect(try await waiter.waitReadable(deadline: .now + .milliseconds(50)) == false)
        pipe.send()
        #expect(try await waiter.waitReadable(deadline: .now + .seconds(5)) == true)
        waiter.invalidate()
    }

    @Test("a cancelled task stops waiting with .cancelled")
    func cancellation() async throws {
        let pipe = try Pipe()
        let waiter = ReadinessWaiter(fd: pipe.read, label: "pipe")
        let wait = Self.waitWithoutDeadline(waiter)
        try await Task.sleep(for: .milliseconds(50))
        wait.cancel()
        #expect(await wait.value == SystemError.cancelled(operation: "wait readable", path: "pipe"))
        waiter.invalidate()
    }

    @Test("invalidating ends every wait with .closed, and later waits too")
    func invalidation() async throws {
        let pipe = try Pipe()
        let waiter = ReadinessWaiter(fd: pipe.read, label: "pipe")
        let wait = Self.waitWithoutDeadline(waiter)
        try await Task.sleep(for: .milliseconds(50))
        waiter.invalidate()
        #expect(await wait.value == SystemError.closed(path: "pipe"))
        #expect(waiter.isInvalidated)
        await #expect(throws: SystemError.closed(path: "pipe")) {
            _ = try await waiter.waitReadable(deadline: .now + .seconds(1))
        }
    }

    /// A task that waits on `waiter` with no deadline and returns the error that ended it.
    private static func waitWithoutDeadline(_ waiter: ReadinessWaiter) -> Task<SystemError?, Never> {
        Task {
            do throws(SystemError) {
                _ = try await waiter.waitReadable(deadline: nil)
                return nil
            } catch {
                return error
            }
        }
    }

}
