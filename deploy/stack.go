package deploy

// tagPrefix starts the tags the bot sets on stacks.
const tagPrefix = "code-releaser:"

// digestTag holds the digest of what was last deployed to a stack.
const digestTag = tagPrefix + "digest"
