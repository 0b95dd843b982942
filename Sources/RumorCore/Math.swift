#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The C math library is the only system facility the core uses: pure functions, no IO.
enum CMath {
    static func log10(_ x: Double) -> Double {
        #if canImport(Glibc)
        Glibc.log10(x)
        #elseif canImport(Musl)
        Musl.log10(x)
        #else
        Darwin.log10(x)
        #endif
    }

    static func log(_ x: Double) -> Double {
        #if canImport(Glibc)
        Glibc.log(x)
        #elseif canImport(Musl)
        Musl.log(x)
        #else
        Darwin.log(x)
        #endif
    }
}
