{
  "targets": [
    {
      "target_name": "agekit_quality",
      "sources": ["src/addon.c", "src/engine.c", "src/jpeg_header.c"],
      "cflags": ["-std=c11", "-O3", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O1", "-O0"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      # libjpeg-turbo linked dynamically (libjpeg.so.62 at run time): Debian's libjpeg.a is not position-independent
      # (R_X86_64_PC32 against stderr in jerror.o), so it cannot go into a shared object; without the .so the loader
      # reports the dlopen error and the JS path is used
      "libraries": ["-ljpeg"],
      "conditions": [
        ["OS=='mac'", { "xcode_settings": { "OTHER_CFLAGS": ["-std=c11", "-O3", "-ffp-contract=off"] } }]
      ]
    }
  ]
}
