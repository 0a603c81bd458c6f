# SPDX-License-Identifier: MIT
# Per-env random streams: xoshiro256++ seeded through splitmix64, so env i is replayable from its own seed alone.
# Declared once here and cimported by every kernel (never a global C RNG such as rand()).
# Reference: Blackman & Vigna (2021), "Scrambled linear pseudorandom number generators", ACM TOMS 47(4).

from libc.stdint cimport uint64_t


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t splitmix64(uint64_t* x) noexcept nogil:
    # Vigna's splitmix64: the recommended way to expand one 64-bit seed into xoshiro's 256-bit state.
    x[0] += <uint64_t>0x9E3779B97F4A7C15
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline void rng_seed(uint64_t* s, uint64_t seed) noexcept nogil:
    cdef uint64_t x = seed
    s[0] = splitmix64(&x)
    s[1] = splitmix64(&x)
    s[2] = splitmix64(&x)
    s[3] = splitmix64(&x)


cdef inline uint64_t rng_next(uint64_t* s) noexcept nogil:
    # xoshiro256++ (Blackman & Vigna 2021, Fig. 1).
    cdef uint64_t result = _rotl(s[0] + s[3], 23) + s[0]
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline double rng_uniform(uint64_t* s) noexcept nogil:
    # The top 53 bits give a double uniform on [0, 1).
    return <double>(rng_next(s) >> 11) * (1.0 / 9007199254740992.0)


cdef inline Py_ssize_t rng_below(uint64_t* s, Py_ssize_t n) noexcept nogil:
    # Uniform integer on {0, ..., n-1}; the multiply-shift bias is below 2^-53 for the n used here.
    return <Py_ssize_t>(rng_uniform(s) * n)
