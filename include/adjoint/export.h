/*
 * adjoint/export.h — what leaves the shared library.
 *
 * The library is compiled with -fvisibility=hidden: a function is part of
 * the ABI only when its public prototype starts with ADJ_API, so the
 * internal cross-file functions declared in the headers under src/ stay
 * private to the library.  Every prototype in include/adjoint/ carries it;
 * tests/exports.py checks that the shared library exports exactly these
 * names.
 *
 * A program may define ADJ_API itself before including adjoint.h (as Lua
 * lets lua.h's users define LUA_API), e.g. to empty.
 */
#ifndef ADJOINT_EXPORT_H
#define ADJOINT_EXPORT_H

#ifndef ADJ_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define ADJ_API __attribute__((visibility("default")))
#else
#define ADJ_API
#endif
#endif

/* Marks a public function kept for existing programs; `msg` names the
 * replacement.  Define ADJ_NO_DEPRECATED_WARNINGS to silence it. */
#ifndef ADJ_DEPRECATED
#if defined(__GNUC__) && !defined(ADJ_NO_DEPRECATED_WARNINGS)
#define ADJ_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define ADJ_DEPRECATED(msg)
#endif
#endif

#endif
