import Glibc

/// What this process uses of the machine, read from `/proc/self` and the kernel's limits:
/// for the daemon's metrics (`process_resident_memory_bytes`, `process_open_fds`). Each
/// reading is `nil` when the OS does not give it (no `/proc`, an unexpected format).
public enum ProcessResources {
    /// The resident set size in bytes: the second field of `/proc/self/statm` (pages) times
    /// the page size.
    public static func residentMemoryBytes() -> Int? {
        guard let bytes = try? SafeFile.readRegularFile("/proc/self/statm", maxBytes: 4096) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pageSize > 0 else { return nil }
        let (product, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? nil : product
    }

    /// The open descriptors: the entries of `/proc/self/fd`, less the one that lists them.
    public static func openDescriptorCount() -> Int? {
        guard case .success(let directory) = Syscall.pointerResult({ opendir("/proc/self/fd") }) else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDotEntry = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name.count > 2 && name[0] == UInt8(ascii: ".")
                    && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDotEntry { count += 1 }
        }
        return max(0, count - 1)
    }

    /// The most descriptors the process may open (the soft `RLIMIT_NOFILE`); `nil` when unlimited.
    public static func descriptorLimit() -> Int? {
        var limit = rlimit()
        guard case .success = Syscall.result({ getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) }) else { return nil }
        // RLIM_INFINITY is all ones, which Swift cannot import: past Int.max is unlimited.
        return Int(exactly: limit.rlim_cur)
    }
}
