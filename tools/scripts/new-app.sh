#!/usr/bin/env bash
# Scaffold an app: tools/scripts/new-app.sh NAME "description". Writes apps/NAME/{package.json,README.md,project.json,
# tsconfig*.json,jest.config.js}. The app is released as the npm package @agekit/NAME with bin agekit-NAME
# (bundle-app.mjs adds main and the dependencies the bundle imports).
set -euo pipefail
name=$1; desc=${2:-"agekit $1"}
dir=apps/$name
mkdir -p "$dir/src"
version=$(node -p 'require("./libs/dataset/package.json").version') # fixed versioning: every package shares it
cat > "$dir/package.json" <<JSON
{
  "name": "@agekit/$name",
  "version": "$version",
  "description": "$desc",
  "license": "MIT",
  "bin": {
    "agekit-$name": "./main.js"
  },
  "engines": {
    "node": ">=20"
  },
  "publishConfig": {
    "access": "public"
  }
}
JSON
printf '# @agekit/%s\n\n%s\n' "$name" "$desc" > "$dir/README.md"
cat > "$dir/project.json" <<JSON
{
  "name": "$name",
  "\$schema": "../../node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$dir/src",
  "projectType": "application",
  "tags": ["type:app"],
  "targets": {
    "build": {
      "executor": "nx:run-commands",
      "outputs": ["{workspaceRoot}/dist/$dir"],
      "inputs": [
        "production",
        "^production",
        "{workspaceRoot}/tools/scripts/bundle-app.mjs",
        "{workspaceRoot}/package.json",
        "{workspaceRoot}/LICENSE",
        { "externalDependencies": ["esbuild"] }
      ],
      "options": { "command": "node tools/scripts/bundle-app.mjs $dir/src/main.ts dist/$dir/main.js" }
    },
    "lint": {
      "executor": "@nx/eslint:lint",
      "options": { "lintFilePatterns": ["$dir/src"] }
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
  "references": [{ "path": "./tsconfig.app.json" }, { "path": "./tsconfig.spec.json" }]
}
JSON
cat > "$dir/tsconfig.app.json" <<JSON
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "outDir": "../../dist/out-tsc" },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.spec.ts"]
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
echo "created $dir"
