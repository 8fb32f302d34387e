#!/usr/bin/env bash
# Scaffold a publishable library in the house pattern: tools/scripts/new-lib.sh NAME "scope:x" "description"
# Writes libs/NAME/{package.json,project.json,tsconfig*.json,jest.config.js,README.md,src/index.ts}.
set -euo pipefail
name=$1; scope=${2:-scope:$1}; desc=${3:-"agekit $1 library"}
dir=libs/$name
[ -e "$dir" ] && { echo "new-lib: $dir already exists" >&2; exit 2; }
mkdir -p "$dir/src/lib"
cat > "$dir/package.json" <<JSON
{
  "name": "@agekit/$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "main": "./src/index.js",
  "types": "./src/index.d.ts",
  "exports": {
    ".": { "types": "./src/index.d.ts", "default": "./src/index.js" },
    "./package.json": "./package.json"
  },
  "dependencies": {},
  "publishConfig": { "access": "public" }
}
JSON
cat > "$dir/project.json" <<JSON
{
  "name": "$name",
  "\$schema": "../../node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$dir/src",
  "projectType": "library",
  "tags": ["type:lib", "$scope"],
  "targets": {
    "build": {
      "executor": "@nx/js:tsc",
      "outputs": ["{options.outputPath}"],
      "options": {
        "outputPath": "dist/$dir",
        "main": "$dir/src/index.ts",
        "tsConfig": "$dir/tsconfig.lib.json",
        "assets": ["$dir/*.md", { "input": ".", "glob": "LICENSE", "output": "." }]
      }
    },
    "lint": {
      "executor": "@nx/eslint:lint",
      "options": { "lintFilePatterns": ["$dir/src", "$dir/package.json"] }
    },
    "test": {
      "executor": "@nx/jest:jest",
      "outputs": ["{workspaceRoot}/coverage/{projectRoot}"],
      "options": { "jestConfig": "$dir/jest.config.js" }
    }
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "files": [],
  "include": [],
  "references": [{ "path": "./tsconfig.lib.json" }, { "path": "./tsconfig.spec.json" }]
}
JSON
cat > "$dir/tsconfig.lib.json" <<JSON
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "outDir": "../../dist/out-tsc", "declaration": true },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.spec.ts", "src/**/*.test.ts", "jest.config.js"]
}
JSON
cat > "$dir/tsconfig.spec.json" <<JSON
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "outDir": "../../dist/out-tsc", "types": ["jest", "node"], "isolatedModules": true },
  "include": ["src/**/*.ts", "../../tools/synth/**/*.ts"]
}
JSON
cat > "$dir/jest.config.js" <<JS
module.exports = {
  displayName: '$name',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/$dir',
};
JS
printf '# @agekit/%s\n\n%s\n' "$name" "$desc" > "$dir/README.md"
printf '// Public API of @agekit/%s\n' "$name" > "$dir/src/index.ts"
echo "created $dir"
