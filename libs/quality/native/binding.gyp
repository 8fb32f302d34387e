{
  "targets": [
    {
      "target_name": "agekit_quality",
      "sources": ["src/addon.c", "src/engine.c", "src/jpeg_header.c"],
      "cflags": ["-std=c11", "-O3", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O1", "-O0"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "libraries": ["-ljpeg"],
      "conditions": [
        ["OS=='mac'", { "xcode_settings": { "OTHER_CFLAGS": ["-std=c11", "-O3", "-ffp-contract=off"] } }]
      ]
    }
  ]
}
