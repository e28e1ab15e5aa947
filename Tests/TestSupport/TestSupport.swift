import Foundation

/// Helpers shared by the test targets: temporary folders and descriptor accounting.
public enum TestSupport {
    /// A new empty temporary folder, unique to the caller.
    public static func temporaryDirectory(_ label: String = "test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-ras-\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes a temporary folder (errors ignored: best effort in test teardown).
    public static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    /// The descriptors this process holds, as number → link target.
    public static func openDescriptors() -> [Int: String] {
        let fm = FileManager.default
        var result: [Int: String] = [:]
        for entry in (try? fm.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let number = Int(entry),
                  let target = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)") else { continue }
            result[number] = target
        }
        return result
    }

    /// How many descriptors of this process refer to `path` (a device, file or socket path).
    /// Descriptors of a pty master count for its slave path too (found by `tty-index`), so
    /// that a test can account for both ends of its own pty without counting other tests'.
    public static func descriptorCount(referringTo path: String) -> Int {
        let ptyIndex = path.hasPrefix("/dev/pts/") ? String(path.dropFirst("/dev/pts/".count)) : nil
        var count = 0
        for (number, target) in openDescriptors() {
            if target == path {
                count += 1
            } else if let ptyIndex, target == "/dev/ptmx" || target == "/dev/pts/ptmx",
                      let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(number)", encoding: .utf8),
                      info.split(separator: "\n").contains(where: { $0.hasPrefix("tty-index:") && $0.split(separator: "\t").last.map(String.init)?.trimmingCharacters(in: .whitespaces) == ptyIndex }) {
                count += 1
            }
        }
        return count
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` passes; returns the last value.
    public static func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return try await condition()
    }

    /// A PID that belonged to a process that has exited (for stale lock files).
    public static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}

/// A temporary folder for one test suite, and the files it plants there.
public struct ScratchFolder: Sendable {
    /// The folder.
    public let directory: URL

    /// A fresh folder whose name starts with `label`.
    public init(_ label: String) throws { directory = try TestSupport.temporaryDirectory(label) }

    /// The path of `name` in the folder.
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Makes a FIFO called `name` in the folder; returns its path.
    public func fifo(_ name: String) throws -> String {
        let fifo = path(name)
        guard mkfifo(fifo, 0o666) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: fifo]) }
        return fifo
    }
}
