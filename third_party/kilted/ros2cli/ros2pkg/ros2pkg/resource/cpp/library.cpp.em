#include "@(package_name)/@(library_name).hpp"

namespace @(package_name)
{

@(class_name)::@(class_name)()
{
}

@(class_name)::~@(class_name)()
{
}

}  // namespace @(package_name)
