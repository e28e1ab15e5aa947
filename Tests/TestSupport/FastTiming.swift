import Hayes

extension TestSupport {
    /// Modem time limits for tests against the fake modem: short, yet long enough for a
    /// loaded 2-core machine. Pair with a fake modem whose S12 is at most 10 (200 ms).
    public static let fastTiming: ModemTiming = {
        var timing = ModemTiming()
        timing.command = .seconds(2)
        timing.reset = .seconds(2)
        timing.quietFlush = .milliseconds(30)
        timing.dtrDrop = .milliseconds(100)
        timing.hangUpConfirm = .milliseconds(600)
        timing.escapeGuard = .milliseconds(250)
        timing.abortDial = .seconds(2)
        return timing
    }()
}
