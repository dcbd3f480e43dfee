"""What the libFuzzer target is built from, read off the libraries it covers.

The fuzzer is compiled with clang outside Bazel's C++ toolchain (gcc), so it
cannot simply depend on cc_library targets. fuzz_inputs gives a genrule the
files instead: `srcs` of its own, each library's own `srcs` (not those of
the libraries below it, which the fuzzer does not link) and every header
the libraries can include. A source added to one of them in its BUILD file
is compiled into the fuzzer with no other edit.
"""

_OwnSources = provider(fields = ["files"])

def _own_sources_impl(target, ctx):
    return [_OwnSources(files = depset(
        transitive = [src.files for src in getattr(ctx.rule.attr, "srcs", [])],
    ))]

_own_sources = aspect(implementation = _own_sources_impl)

def _fuzz_inputs_impl(ctx):
    sources = [dep[_OwnSources].files for dep in ctx.attr.deps]
    headers = [dep[CcInfo].compilation_context.headers for dep in ctx.attr.deps]
    return [DefaultInfo(files = depset(ctx.files.srcs, transitive = sources + headers))]

fuzz_inputs = rule(
    implementation = _fuzz_inputs_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".cc", ".h"]),
        "deps": attr.label_list(aspects = [_own_sources], providers = [CcInfo]),
    },
)
