import DiscoveryTestbed
import Foundation
import ModemDiscovery
import Testing

/// Runs `discovery-test-harness`, the helper program that runs ModemDiscovery inside an
/// umockdev testbed (the preload library must be in place before a process starts, so
/// the discovery code under test runs in a child process; see DISCOVERY.md).
enum Harness {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The built products folder: the one that holds this test binary.
    static var productsDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// The package's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Fixtures/umockdev/<name>`.
    static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Fixtures/umockdev/\(name)").path
    }

    /// Every umockdev fixture, sorted by name.
    static var allFixtures: [String] {
        let folder = packageRoot.appendingPathComponent("Fixtures/umockdev")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".umockdev") }.sorted().map(fixture)
    }

    /// Runs the harness with `arguments` under the umockdev preload library; returns its
    /// standard output. Throws if it fails or outlives `timeout`.
    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> Data {
        let executable = productsDirectory.appendingPathComponent("discovery-test-harness")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Failure(description: "\(executable.path) is missing: build the package first (swift build --build-tests)")
        }
        return try await runProcess(executable.path, arguments, environment: Preload.environment(), timeout: timeout)
    }

    /// Runs the harness and decodes its JSON output.
    static func decode<T: Decodable>(_ type: T.Type, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> T {
        let output = try await run(arguments, timeout: timeout)
        do {
            return try JSONDecoder().decode(type, from: output)
        } catch {
            throw Failure(description: "cannot decode the harness output (\(error)): \(String(decoding: output.prefix(2000), as: UTF8.self))")
        }
    }
}

/// What a finished program printed, and its exit status.
struct CommandOutput: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// The lines of standard output.
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs a program with its output in temporary files (no pipe to fill up); returns its
/// standard output, or throws with its standard error if it exits non-zero.
func runProcess(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration
) async throws -> Data {
    let output = try await runCommand(path, arguments, environment: environment, timeout: timeout)
    guard output.status == 0 else {
        throw Harness.Failure(description: "\(path) \(arguments.joined(separator: " ")) failed (status \(output.status)): \(output.stderr.suffix(4000))")
    }
    return Data(output.stdout.utf8)
}

/// Runs a program with its output in temporary files; returns its status (128 + the
/// signal if a signal ended it) and output. Throws if it outlives `timeout`.
func runCommand(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration
) async throws -> CommandOutput {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swift-ras-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw Harness.Failure(description: "\(path) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
    }
    try out.close()
    try err.close()
    let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    return CommandOutput(
        status: status,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// Finds a program on `PATH`.
func which(_ program: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
        let candidate = "\(folder)/\(program)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A USB serial port for the pure tests.
func usbDevice(
    _ kernelName: String = "ttyACM0", driver: String = "cdc_acm", vendor: UInt16 = 0x0baf, product: UInt16 = 0x0303,
    manufacturer: String? = "U.S.Robotics", productName: String? = "USB Modem", serial: String? = "0000001",
    interface: Int? = 0, classes: (UInt8, UInt8, UInt8)? = (2, 2, 1), port: Int? = nil,
    properties: [String: String] = [:], tags: [String] = []
) -> SerialDevice {
    SerialDevice(
        kernelName: kernelName, devnode: "/dev/\(kernelName)",
        syspath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/tty/\(kernelName)",
        driver: driver, bus: "usb",
        usb: USBInfo(
            vendorID: vendor, productID: product, manufacturer: manufacturer, product: productName, serialNumber: serial,
            interfaceNumber: interface, interfaceClass: classes?.0, interfaceSubclass: classes?.1,
            interfaceProtocol: classes?.2, portNumber: port),
        properties: properties, tags: tags)
}

/// A built-in UART for the pure tests.
func uartDevice(_ kernelName: String = "ttyS0", type: Int = 4, properties: [String: String] = [:]) -> SerialDevice {
    SerialDevice(
        kernelName: kernelName, devnode: "/dev/\(kernelName)",
        syspath: "/sys/devices/platform/serial8250/serial8250:0/serial8250:0.0/tty/\(kernelName)",
        driver: "serial8250", bus: "platform", uartType: type, properties: properties)
}
