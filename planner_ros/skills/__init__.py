"""The skill library: what a robot can do, with typed parameters and a symbolic model of each skill."""
from planner_ros.skills.library import (
    DEFAULT_SKILLS,
    FailureCode,
    ParamType,
    SkillCall,
    SkillLibrary,
    SkillOutcome,
    SkillParam,
    SkillSpec,
    SkillValidationError,
)

__all__ = [
    "DEFAULT_SKILLS", "FailureCode", "ParamType", "SkillCall", "SkillLibrary", "SkillOutcome", "SkillParam",
    "SkillSpec", "SkillValidationError",
]
