"""The C++ sources of the project's own code under a target, for lint.

cc_sources walks `deps` (and their deps) and gives every source file of the
targets in packages under `src/`, plus every header they can include
(generated proto headers too), so a lint test sees exactly what the driver
is built from: a library added to the driver is linted with no other edit.
"""

_Sources = provider(fields = ["files"])

def _sources_aspect_impl(target, ctx):
    own = []
    if target.label.workspace_root == "" and target.label.package.startswith("src"):
        own = [src.files for src in getattr(ctx.rule.attr, "srcs", [])]
        own += [hdr.files for hdr in getattr(ctx.rule.attr, "hdrs", [])]
    if CcInfo in target:
        own.append(target[CcInfo].compilation_context.headers)
    below = [dep[_Sources].files for dep in getattr(ctx.rule.attr, "deps", []) if _Sources in dep]
    return [_Sources(files = depset(transitive = own + below))]

_sources_aspect = aspect(
    implementation = _sources_aspect_impl,
    attr_aspects = ["deps"],
)

def _cc_sources_impl(ctx):
    files = depset(transitive = [dep[_Sources].files for dep in ctx.attr.deps])
    return [DefaultInfo(files = files, runfiles = ctx.runfiles(transitive_files = files))]

cc_sources = rule(
    implementation = _cc_sources_impl,
    attrs = {
        "deps": attr.label_list(aspects = [_sources_aspect]),
    },
)
